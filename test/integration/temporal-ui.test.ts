/**
 * A signed approval pasted into the Temporal UI's "Send an Update", as a person does it: Debian chromium (driven by
 * playwright-core) on the UI the test server serves (global-setup starts it with the dev server), on a release
 * waiting at an approval gate. A forged approval is refused in the modal with only the reason and writes nothing to
 * the history; the signed one (printed by the helper `canary sign` uses) passes the gate.
 * Screenshots and the modal's HTML go to .canary/temporal-ui/ (git-ignored).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { readRecordedMessages, withCallers } from '../../client/callers';
import { startRelease } from '../../client/release-client';
import { readSigningKey, signedPayload, signPayload } from '../../client/signing';
import { statusQuery } from '../../common/messages';
import { parsePublicKey } from '../../common/signing';
import { launchChromium } from '../../dev/browser';
import { testStack } from '../support/env';
import { historyOf, releaseTestEnvironment, seedService, testSpec, waitForStatus } from '../support/release-fixture';

const env = releaseTestEnvironment();
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'signing');
const ALICE_PUB = fs.readFileSync(path.join(FIXTURES, 'alice_ed25519.pub'), 'utf8').trim();
const shots = path.resolve(__dirname, '../../.canary/temporal-ui');

async function shot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(shots, { recursive: true });
  const file = path.join(shots, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/**
 * Opens More Actions → Send an Update, picks `name` from the UI's list (the workflow's update definitions, which the
 * UI reads from the SDK's metadata query), pastes `payload` into Data with Ctrl+V, and submits.
 */
async function sendUpdate(page: Page, name: string, payload: unknown): Promise<Locator> {
  await page.getByRole('button', { name: /more actions/i }).click();
  await page.locator('[data-testid="update-button"]:visible').click();
  const modal = page.locator('[data-testid="update-confirmation-modal"]:visible');
  await modal.getByTestId('update-select-button').click();
  await modal.getByRole('option', { name, exact: true }).click();
  const data = modal.getByRole('textbox', { name: 'Data' });
  await data.click();
  // Cancel does not empty the editor (the modal keeps what was typed): select all and paste over it.
  await page.keyboard.press('Control+A');
  await page.evaluate(
    (text) => (globalThis as unknown as { navigator: { clipboard: { writeText(t: string): Promise<void> } } }).navigator.clipboard.writeText(text),
    JSON.stringify(payload),
  );
  await page.keyboard.press('Control+V');
  // What was pasted is what the editor holds (CodeMirror renders it as text lines).
  expect(JSON.parse((await data.innerText()).replace(/\n/g, ''))).toEqual(payload);
  // Leave the editor before submitting, as a person moving to the button does: the UI rewrites (pretty-prints) the
  // editor when it loses focus, and a click that lands while it does is lost.
  await page.keyboard.press('Tab');
  await data.locator('.cm-line').nth(2).waitFor(); // pretty-printed: one line per field
  await modal.getByRole('button', { name: 'Submit' }).click();
  return modal;
}

it('passes a release approval gate with a signed approval pasted into the Temporal UI; a forged one is refused there with only the reason and the history unchanged', async () => {
  const { service, seeded } = await seedService(env.aws, 'ui');
  const spec = testSpec(seeded, service, {
    approverKeys: { alice: ALICE_PUB },
    steps: [{ setWeight: 10 }, { approval: { approvers: ['alice'], timeout: '10m' } }, { setWeight: 100 }],
  });
  const h = await startRelease(env.client, spec, { taskQueue: env.taskQueue });
  await waitForStatus(h, (s) => s.phase === 'AwaitingApproval');
  const run = (await h.describe()).raw.workflowExecutionInfo?.firstRunId ?? '';
  // What `canary sign approve RELEASE --key alice_ed25519 --by alice` prints, and the same signed with mallory's key.
  const signed = await signedPayload({
    client: env.client,
    release: h.workflowId,
    verb: 'approve',
    payload: { by: 'alice' },
    keyFile: path.join(FIXTURES, 'alice_ed25519'),
  });
  const forged = signPayload(
    readSigningKey(path.join(FIXTURES, 'mallory_ed25519')),
    'approve',
    { by: 'alice', step: 1 },
    { release: h.workflowId, run, step: 1 },
  );

  const t0 = Date.now();
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: testStack.temporalUiUrl });
    const page = await context.newPage();
    // Offline: only the UI itself (it also asks newsfeed.temporal.io for news, which a loopback-only machine cannot reach).
    await page.route('**/*', (route) => (route.request().url().startsWith(testStack.temporalUiUrl) ? route.continue() : route.abort()));
    await page.goto(`${testStack.temporalUiUrl}/namespaces/default/workflows/${h.workflowId}`);
    await page.getByRole('heading', { name: h.workflowId }).waitFor({ timeout: 30_000 });
    const loaded = Date.now();

    const before = await historyOf(env.client, h.workflowId);
    const modal = await sendUpdate(page, 'approve', forged);
    const reason = `the signature does not verify with alice's key (${parsePublicKey(ALICE_PUB).fingerprint})`;
    const alert = modal.getByRole('alert').filter({ hasText: 'does not verify' });
    await alert.waitFor({ timeout: 30_000 });
    process.stdout.write(`[temporal-ui] refused: ${await shot(page, 'forged-refused')}\n`);
    // The modal shows the reason and nothing else: no stack trace block, no worker file paths.
    expect((await alert.innerText()).trim()).toBe(
      `${reason}: it was made with another key or over other content (release, run, step, verb, by, note, nonce and at are all signed)`,
    );
    expect(await modal.innerText()).not.toMatch(/\.ts:\d+|\bat \w+ \(|ApplicationFailure/);
    expect(await modal.locator('.cm-editor').count()).toBe(1); // only the Data editor: the stack trace would be a second code block
    expect(await historyOf(env.client, h.workflowId)).toEqual(before);
    expect((await h.query(statusQuery)).gate).toMatchObject({ kind: 'approval', step: 1 });
    await modal.getByTestId('cancel-modal-button').click();

    const accepted = await sendUpdate(page, 'approve', signed);
    await accepted.waitFor({ state: 'hidden', timeout: 30_000 }); // the UI closes the modal on success
    await page.getByText('Update successful').first().waitFor({ timeout: 10_000 }); // the toast
    process.stdout.write(`[temporal-ui] accepted: ${await shot(page, 'signed-accepted')}\n`);
    process.stdout.write(
      `[figure] Temporal UI: page loaded in ${loaded - t0} ms (chromium start included); two updates sent through the form in ${Date.now() - loaded} ms\n`,
    );
  } catch (e) {
    // What the page showed when it went wrong, for whoever reads the failure.
    const page = browser.contexts()[0]?.pages()[0];
    if (page) {
      process.stdout.write(`[temporal-ui] failed; page: ${await shot(page, 'failure')}\n`);
      fs.writeFileSync(path.join(shots, 'failure.html'), await page.content());
    }
    throw e;
  } finally {
    await browser.close();
  }
  // The gate passed on the signed approval, and the release went on to promote.
  const status = await waitForStatus(h, (s) => s.timeline.some((e) => e.action === 'approve'));
  expect(status.timeline.filter((e) => e.action === 'approve')).toEqual([
    expect.objectContaining({ by: 'alice', accepted: true, detail: 'step 1', signed: { key: parsePublicKey(ALICE_PUB).fingerprint } }),
  ]);
  expect((await h.result()).outcome).toBe('promoted');
  // The identity the UI's server put on the update, as the history recorded it.
  const approval = withCallers(status.timeline, await readRecordedMessages(env.client, h.workflowId)).find((e) => e.action === 'approve');
  // The UI (2.54, served by the dev server) puts no identity on the update it sends: the history has an empty one,
  // which canary history shows as "(none given)". Only the signature says it was alice.
  expect(approval?.callerIdentity).toBe('');
});
