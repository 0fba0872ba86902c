# syntax=docker/dockerfile:1
# Firebreak: a multi-stage image. The build stage compiles TypeScript (and better-sqlite3's native
# addon, as a dev install does); the runtime stage holds only the compiled code, the assets and the
# production dependencies, and runs as the unprivileged `node` user.
# scripts/prod-install-check.sh repeats the runtime stage's install in CI (no container engine there).
#
#   docker build -t firebreak .
#   docker run --env-file .env -p 3000:3000 -v firebreak-data:/app/data firebreak
ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# Only the TypeScript compiler is needed here: no install scripts (`prepare` would build before the
# sources are copied; the native addon is built in the prod-deps stage).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM node:${NODE_VERSION}-bookworm-slim AS prod-deps
# better-sqlite3 is a native addon, compiled at install when no prebuilt binary can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only. No lifecycle scripts of the package itself (there is no source to
# compile here); better-sqlite3's install script is the one that must run, to build its addon.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm rebuild better-sqlite3 && npm cache clean --force

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production PORT=3000
WORKDIR /app
# A sans font for the insights charts (resvg draws text only with a font installed).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
COPY --from=prod-deps --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node package.json package-lock.json ./
COPY --chown=node:node assets ./assets
COPY --from=build --chown=node:node /src/dist ./dist
# SQLite's default file is ./data/firebreak.db: mount a volume here, or set DATABASE_URL=postgres://...
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Node directly (not npm): SIGTERM reaches the bot, which drains and closes the store. The node
# flags are `npm start`'s (docs/operations.md, "Memory and start-up"; test/deploy.test.ts keeps them equal).
CMD ["node", "--max-semi-space-size=2", "--v8-pool-size=1", "--liftoff-only", "--expose-gc", "dist/bundle/main.js"]
