/**
 * The one registry of version flags: every change to the commands a release issues, once 1.0 is cut, goes through
 * here (the SDK's own `packages/workflow/src/flags.ts` has the same shape). A flag is asked once, at a release's
 * first run, and the answers travel in the release's data (`versions`), so every later run of the same release —
 * after a continue-as-new, on any worker build — takes the path its first run took.
 *
 * A flag's life (docs/VERSIONING.md): add it here with `deprecated: false` and branch on `hasFlag` (new releases
 * take the new path, releases in flight keep the old one); once no release started before it can still be open,
 * mark it `deprecated: true` (asked with `deprecatePatch`: the old branch goes, histories with the marker still
 * replay); once no release recorded with the marker can be open, remove the entry. The recorded histories of
 * test/fixtures/histories check each step.
 *
 * Until 1.0 is cut (the package's first release), a behaviour change re-records the fixtures instead of adding a
 * flag, so the registry starts empty.
 */
import { deprecatePatch, patched } from '@temporalio/workflow';

export interface VersionFlag {
  /** What the new path does differently, in words. */
  changes: string;
  /** The package version that introduced the flag. */
  since: string;
  /** When the old path may go: the condition for `deprecated: true`. */
  removeWhen: string;
  /** The old path is gone: asked with `deprecatePatch` until the entry itself may go. */
  deprecated: boolean;
}

export const VERSION_FLAGS = {} satisfies Record<string, VersionFlag>;

export type VersionFlagId = keyof typeof VERSION_FLAGS;

/** How a flag is asked of the SDK; a parameter so the registry's rules can be tested outside a workflow. */
export interface FlagAsker {
  patched(id: string): boolean;
  deprecatePatch(id: string): void;
}

/**
 * Asks every flag of `flags` once (a release's first run): the ids of the flags on, in registry order. A deprecated
 * flag is on for every release that asks it.
 */
export function askVersionFlags(flags: Record<string, VersionFlag> = VERSION_FLAGS, sdk: FlagAsker = { patched, deprecatePatch }): string[] {
  const on: string[] = [];
  for (const [id, flag] of Object.entries(flags)) {
    if (flag.deprecated) {
      sdk.deprecatePatch(id);
      on.push(id);
    } else if (sdk.patched(id)) on.push(id);
  }
  return on;
}

/** Whether this release runs with `id` (read from its data, never asked again). */
export function hasFlag(versions: readonly string[], id: VersionFlagId): boolean {
  return versions.includes(id);
}
