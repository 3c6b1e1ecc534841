/**
 * Preloaded with `node -r` (SWC_REGISTER in ./worker-process.ts): how the tests start a program from the sources (the
 * worker, the CLI). Each TypeScript file is transpiled alone by SWC with the options ts-node's SWC mode
 * derives from tsconfig.json (test/support/tsconfig.swc.json), and the output is kept in the system's temp
 * directory under a hash of the file's path, its text and the options, so a run's ~45 worker and ~20 CLI starts
 * transpile each file once. Unlike ts-node, it never loads TypeScript itself (ts-node needs it to read tsconfig.json,
 * in each process and each of the SDK's workflow threads): ~0.5 s of CPU less per worker start (2.5 s to 2.0 s,
 * measured interleaved).
 * `npm run worker` and test/integration/worker.test.ts still run the sources through ts-node.
 */
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const swcVersion = require('@swc/core/package.json').version;
// tsconfig.json: target ES2022, module commonjs, esModuleInterop, strict (ts-node/dist/transpilers/swc.js maps them).
const options = {
  swcrc: false,
  sourceMaps: 'inline',
  module: { type: 'commonjs', noInterop: false, strictMode: true },
  jsc: {
    parser: { syntax: 'typescript', tsx: false },
    target: 'es2022',
    keepClassNames: true,
    transform: { useDefineForClassFields: true },
  },
};
const optionsKey = JSON.stringify([swcVersion, options]);
const cacheDir = path.join(os.tmpdir(), 'canary-swc-cache');
let swc;

require.extensions['.ts'] = function compileTypeScript(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const key = crypto.createHash('sha256').update(optionsKey).update('\0').update(filename).update('\0').update(source).digest('hex');
  const cached = path.join(cacheDir, `${key.slice(0, 32)}.js`);
  let code;
  try {
    code = fs.readFileSync(cached, 'utf8');
  } catch {
    swc ??= require('@swc/core');
    code = swc.transformSync(source, { ...options, filename }).code;
    // Written beside the final name and renamed, so a process starting at the same time never reads half a file.
    fs.mkdirSync(cacheDir, { recursive: true });
    const partial = `${cached}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    fs.writeFileSync(partial, code);
    fs.renameSync(partial, cached);
  }
  module._compile(code, filename);
};
// Stack traces name the .ts lines (the inline source maps), as they do under ts-node.
process.setSourceMapsEnabled(true);
