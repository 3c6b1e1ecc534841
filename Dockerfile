# The canary worker. Build: `docker build -t canary-worker .`; run it with the variables in worker/config.ts
# (docker-compose.yml wires it to a Temporal cluster). test/integration/image.test.ts executes this file's steps
# (without a container engine) and runs a release on the result.

# ---- build: compile the TypeScript, bundle the workflow code, keep only the production dependencies ----
FROM node:20-slim AS build
WORKDIR /app

# Dependencies first, so a source change does not reinstall them. `npm ci` installs exactly the lock file and fails
# if package.json and package-lock.json disagree.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# Only what the worker runs (and client/, whose connection loader it shares): no dev/, test/ or bench/ (tsc skips the folders of tsconfig.build.json that
# are not here).
COPY tsconfig.json tsconfig.build.json ./
COPY common ./common
COPY analysis ./analysis
COPY workflows ./workflows
COPY activities ./activities
COPY worker ./worker
# The worker loads its Temporal connection with the CLI's loader (client/temporal-config.ts).
COPY client ./client

# JavaScript in dist/, and the workflow bundle in dist/workflow-bundle.js (where worker/main.ts looks first), so
# the worker starts without TypeScript or webpack at run time. Then drop the dev dependencies (jest, eslint, ...).
RUN npm run build && node dist/worker/build-bundle.js && npm prune --omit=dev --no-audit --no-fund

# The SDK's native bridge ships a 25-30 MB library for each of five platforms; keep only the one this image runs on
# (the build stage runs on the target platform), the one the SDK itself would load.
RUN node -e "const c = require('@temporalio/core-bridge/common'), fs = require('node:fs'), path = require('node:path'); \
  const dir = path.join(path.dirname(require.resolve('@temporalio/core-bridge/common')), 'releases'); \
  const keep = c.getPrebuiltTargetName(); \
  for (const t of fs.readdirSync(dir)) if (t !== keep) fs.rmSync(path.join(dir, t), { recursive: true }); \
  c.getPrebuiltPath();"

# ---- run: node and the compiled worker ----
FROM node:20-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production

COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

USER node
EXPOSE 9464
# node itself is the process that receives SIGTERM (no npm/npx wrapper in between), so a `docker stop` drains
# the worker within CANARY_SHUTDOWN_GRACE instead of killing an in-flight rollback.
CMD ["node", "dist/worker/main.js"]
