export default async function globalTeardown(): Promise<void> {
  await globalThis.__canaryStack?.stop();
  globalThis.__canaryStack = undefined;
}
