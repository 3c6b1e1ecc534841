#!/usr/bin/env node
/*
 * The `canary` command. Installed from the package (npm install alb-canary), it runs the compiled JavaScript in
 * dist/; in a checkout of the repository (where client/cli.ts exists) it runs the sources through ts-node, types not
 * checked, so `npm run canary --` never runs a stale build (or through a TypeScript loader already registered with
 * `node -r`, as the tests do: test/support/swc-register.js).
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
if (fs.existsSync(path.join(root, 'client', 'cli.ts'))) {
  if (!require.extensions['.ts']) {
    // Compile with this repository's tsconfig whatever the caller's working directory is.
    process.env.TS_NODE_PROJECT = process.env.TS_NODE_PROJECT || path.join(root, 'tsconfig.json');
    require('ts-node/register/transpile-only');
  }
  require('../client/cli').run(process.argv);
} else {
  require('../dist/client/cli.js').run(process.argv);
}
