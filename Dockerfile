# The canary worker (the npm package alb-canary's `canary-worker`). Build: `docker build -t canary-worker .`; run it with the variables in worker/config.ts
# (docker-compose.yml wires it to a Temporal cluster). test/integration/image.test.ts executes this file's steps
# (without a container engine) and runs a release on the result.

# ---- build: the npm package (`npm pack`), unpacked, with only the production dependencies ----
FROM node:24-slim AS build
WORKDIR /app

# Dependencies first, so a source change does not reinstall them. `npm ci` installs exactly the lock file and fails
# if package.json and package-lock.json disagree.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# What the package is built from: the commands (bin/) and the folders of tsconfig.build.json the worker and CLI run;
# no dev/, test/ or bench/ (tsc skips the folders of tsconfig.build.json that are not here).
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY common ./common
COPY analysis ./analysis
COPY workflows ./workflows
COPY activities ./activities
COPY worker ./worker
# The worker loads its Temporal connection with the CLI's loader (client/temporal-config.ts).
COPY client ./client

# The image runs the same compiled output the npm package ships: `npm pack` runs prepack (JavaScript in dist/, the
# workflow bundle in dist/workflow-bundle.js, where the worker looks first) and writes the tarball with exactly the
# files package.json lists, unpacked here into package/. Then drop the dev dependencies (TypeScript, jest, eslint, ...).
RUN npm pack --silent && tar -xzf alb-canary-*.tgz && npm prune --omit=dev --no-audit --no-fund

# The SDK's native bridge ships a 25-30 MB library for each of five platforms; keep only the one this image runs on
# (the build stage runs on the target platform), the one the SDK itself would load.
RUN node -e "const c = require('@temporalio/core-bridge/common'), fs = require('node:fs'), path = require('node:path'); \
  const dir = path.join(path.dirname(require.resolve('@temporalio/core-bridge/common')), 'releases'); \
  const keep = c.getPrebuiltTargetName(); \
  for (const t of fs.readdirSync(dir)) if (t !== keep) fs.rmSync(path.join(dir, t), { recursive: true }); \
  c.getPrebuiltPath();"

# ---- run: node, the unpacked package and its production dependencies ----
FROM node:24-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production

COPY --from=build /app/package ./
COPY --from=build /app/node_modules ./node_modules

USER node
EXPOSE 9464
# The package's `canary-worker` command, with node itself the process that receives SIGTERM (no npm/npx wrapper in
# between), so a `docker stop` drains the worker within CANARY_SHUTDOWN_GRACE instead of killing an in-flight rollback.
CMD ["node", "bin/canary-worker.js"]
