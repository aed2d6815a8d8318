# syntax=docker/dockerfile:1.7
# One image recipe for every service: `docker build --build-arg SERVICE=greeter .`
# The services run from their TypeScript sources with Node's type stripping, so the image is
# the workspace (sources only) with the production dependencies of that one service.
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
ARG SERVICE
RUN test -n "$SERVICE" || (echo "build with --build-arg SERVICE=<lang|auth|caller|greeter|gateway|edge|a package new-service made>" && false)
RUN npm install --global --no-audit --no-fund pnpm@12.21.0
WORKDIR /app
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY packages ./packages
COPY proto-compat ./proto-compat
# The benchmark is a workspace package too: its manifest keeps the lockfile whole.
COPY bench/package.json ./bench/package.json
COPY templates/rest/package.json ./templates/rest/package.json
COPY templates/connect/package.json ./templates/connect/package.json
# Only what this service and the workspace packages it uses need at run time.
RUN pnpm install --frozen-lockfile --prod --filter "@platform/${SERVICE}..." \
 && rm -rf packages/*/test proto-compat/test

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ARG SERVICE
ENV NODE_ENV=production \
    HEALTH_PATH=/healthz
WORKDIR /app
COPY --from=build --chown=node:node /app /app
# Where a service's crash-safe spool lives (caller's call logs); owned by node, so a volume mounted
# there starts writable.
RUN mkdir -p /var/spool/platform && chown node:node /var/spool/platform
WORKDIR /app/packages/${SERVICE}
USER node
# Docker's own health check on the contract's /healthz (PORT is set by Compose).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + process.env.HEALTH_PATH).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM reaches node directly (no shell), which drains in-flight work before exiting.
STOPSIGNAL SIGTERM
CMD ["node", "src/main.ts"]
