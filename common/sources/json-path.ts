/**
 * A small, safe JSON path: `$` followed by `.name`, `['any name']` / `["any name"]` and `[N]` (an array index; `[-1]`
 * is the last element), e.g. `$.data.success_rate`, `$.items[0].value`, `$['p99 latency']`. One value, no wildcards,
 * filters or scripts: the web source picks one number out of an answer with it, and nothing in it is evaluated.
 * Workflow-safe.
 */

/** A parsed path: property names and array indexes, in order. */
export type JsonPath = (string | number)[];

const NAME = /[A-Za-z_$][\w$-]*/y;
const INDEX = /-?\d{1,9}/y;

/** Parses a path; throws an Error whose message says where it went wrong. */
export function parseJsonPath(text: string): JsonPath {
  if (text.length > 500) throw new Error('the path is longer than 500 characters');
  if (!text.startsWith('$')) throw new Error(`a path starts with $, e.g. $.data.value (got "${text.slice(0, 40)}")`);
  const out: JsonPath = [];
  let i = 1;
  const fail = (what: string): never => {
    throw new Error(`${what} at position ${i + 1} of "${text}" (supported: $, .name, ['name'], [N])`);
  };
  while (i < text.length) {
    const c = text[i];
    if (c === '.') {
      NAME.lastIndex = i + 1;
      const m = NAME.exec(text);
      if (!m) fail('a name is expected after "."');
      out.push((m as RegExpExecArray)[0]);
      i = NAME.lastIndex;
    } else if (c === '[') {
      const q = text[i + 1];
      if (q === "'" || q === '"') {
        let name = '';
        let j = i + 2;
        for (; j < text.length && text[j] !== q; j++) {
          if (text[j] === '\\') j++;
          name += text[j] ?? '';
        }
        if (text[j] !== q || text[j + 1] !== ']') fail(`a quoted name must end with ${q}]`);
        out.push(name);
        i = j + 2;
      } else {
        INDEX.lastIndex = i + 1;
        const m = INDEX.exec(text);
        if (!m || text[INDEX.lastIndex] !== ']') fail('an index [N] or a quoted name is expected');
        out.push(Number((m as RegExpExecArray)[0]));
        i = INDEX.lastIndex + 1;
      }
    } else fail(`unexpected "${c}"`);
  }
  return out;
}

/** The value at `path` in `value`, or undefined when any step of it is missing. Only own properties are read. */
export function readJsonPath(value: unknown, path: JsonPath): unknown {
  let at: unknown = value;
  for (const step of path) {
    if (typeof step === 'number') {
      if (!Array.isArray(at)) return undefined;
      at = at[step < 0 ? at.length + step : step];
    } else {
      if (at === null || typeof at !== 'object' || Array.isArray(at) || !Object.prototype.hasOwnProperty.call(at, step)) return undefined;
      at = (at as Record<string, unknown>)[step];
    }
  }
  return at;
}
