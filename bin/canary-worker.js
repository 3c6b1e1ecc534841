#!/usr/bin/env node
/*
 * The `canary-worker` command: the worker process (worker/main.ts), configured by environment (worker/config.ts).
 * Installed from the package, and in the Docker image, it runs the compiled JavaScript in dist/ with the workflow
 * bundle built when the package was packed (dist/workflow-bundle.js); in a checkout of the repository (where
 * worker/main.ts exists) it runs the sources through ts-node, as `npm run worker` does.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
if (fs.existsSync(path.join(root, 'worker', 'main.ts'))) {
  // Unless a TypeScript loader is already registered with `node -r` (the tests' test/support/swc-register.js).
  if (!require.extensions['.ts']) {
    process.env.TS_NODE_PROJECT = process.env.TS_NODE_PROJECT || path.join(root, 'tsconfig.json');
    require('ts-node/register/transpile-only');
  }
  require('../worker/main').main();
} else {
  require('../dist/worker/main.js').main();
}
