# The canary worker. Build: `docker build -t canary-worker .`; run it with the variables in worker/config.ts
# (docker-compose.yml wires it to a local Temporal server).
FROM node:20-slim

WORKDIR /app
ENV NODE_ENV=production

# Dependencies first, so a source change does not reinstall them. ts-node and typescript are runtime
# dependencies: the worker runs its TypeScript with ts-node --transpile-only.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY . .

# Bundle the workflow code at build time (dist/workflow-bundle.js), so the worker starts without webpack.
RUN node -r ts-node/register/transpile-only worker/build-bundle.ts

USER node
EXPOSE 9464
# node itself is the process that receives SIGTERM (no npm/npx wrapper in between), so a `docker stop` drains
# the worker within CANARY_SHUTDOWN_GRACE instead of killing an in-flight rollback.
CMD ["node", "-r", "ts-node/register/transpile-only", "worker/main.ts"]
