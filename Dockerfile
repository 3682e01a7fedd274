# Build: compile TypeScript with the development toolchain.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: the image already runs Node 24 (the `node` dev dependency only fetches
# it for machines whose own Node is older) and compiling needs no mongod download.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY config ./config
COPY src ./src
RUN npm run build

# Run: compiled JavaScript and production dependencies only (no tsx, no embedded MongoDB).
FROM node:24-bookworm-slim
ENV NODE_ENV=production PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY views ./views
USER node
EXPOSE 3000 9464
# Ready means MongoDB answers too. The slim image has no curl: Node's own fetch asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# V8's heap under load (docs/benchmarks.md, "Memory"): a small young generation and a ceiling on the
# old one keep it near what is live (~60 MB) instead of letting 100 concurrent sign-ins grow
# it past 200 MB. npm run bench starts the server with this same command.
CMD ["node", "--max-semi-space-size=8", "--max-old-space-size=256", "dist/src/main.js"]
