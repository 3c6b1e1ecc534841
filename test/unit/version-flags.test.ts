/**
 * The registry of version flags (workflows/release/versions.ts): each flag is asked once, in registry order, the
 * way its stage of life says (`patched` while the old path lives, `deprecatePatch` once it is gone), and the answers
 * are what a release carries in its data. Until 1.0 is cut the registry is empty.
 */
import { askVersionFlags, hasFlag, VERSION_FLAGS, type VersionFlag } from '../../workflows/release/versions';

const flag = (deprecated: boolean): VersionFlag => ({ changes: 'x', since: '1.0.0', removeWhen: 'y', deprecated });

function recorder(on: string[]) {
  const calls: string[] = [];
  return {
    calls,
    sdk: {
      patched: (id: string) => (calls.push(`patched ${id}`), on.includes(id)),
      deprecatePatch: (id: string) => void calls.push(`deprecatePatch ${id}`),
    },
  };
}

it('asks each flag once in registry order: patched while the old path lives, deprecatePatch once it is gone', () => {
  const r = recorder(['b']);
  const on = askVersionFlags({ a: flag(false), b: flag(false), c: flag(true) }, r.sdk);
  expect(r.calls).toEqual(['patched a', 'patched b', 'deprecatePatch c']);
  // `a` was not on (a release that replays from before it); a deprecated flag is on for every release.
  expect(on).toEqual(['b', 'c']);
});

it('is empty before 1.0: nothing is asked, and a release carries no flags', () => {
  const r = recorder([]);
  expect(Object.keys(VERSION_FLAGS)).toEqual([]);
  expect(askVersionFlags(VERSION_FLAGS, r.sdk)).toEqual([]);
  expect(r.calls).toEqual([]);
});

it('hasFlag reads the carried answers, never the SDK', () => {
  // No flag exists yet to name; the check is on the carried list itself.
  expect(hasFlag(['some-flag'], 'some-flag' as never)).toBe(true);
  expect(hasFlag([], 'some-flag' as never)).toBe(false);
});
