/**
 * The installed package's own package.json: one level up from client/ in a checkout (ts-node), two from dist/client/
 * when running the compiled JavaScript (the npm package, the Docker image).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The package's version (`canary --cli-version`), as package.json says; `unknown` when no package.json is found. */
export function packageVersion(from: string = __dirname): string {
  for (const dir of [path.resolve(from, '..'), path.resolve(from, '..', '..')]) {
    const file = path.join(dir, 'package.json');
    if (!fs.existsSync(file)) continue;
    const { version } = JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: unknown };
    if (typeof version === 'string') return version;
  }
  return 'unknown';
}
