#!/usr/bin/env node
/* The `canary` command (npx canary, npm run canary --): runs client/cli.ts through ts-node, types not checked. */
'use strict';
const path = require('node:path');

// Compile with this repository's tsconfig whatever the caller's working directory is.
process.env.TS_NODE_PROJECT = process.env.TS_NODE_PROJECT || path.join(__dirname, '..', 'tsconfig.json');
require('ts-node/register/transpile-only');
require('../client/cli').run(process.argv);
