# One image, two entry points: the agent worker (default) and the dispatcher.
#   docker build -t voicecare .
#   docker run voicecare                                   # agent worker
#   docker run voicecare node --import tsx dispatcher/main.ts
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# onnxruntime-node ships its CPU binaries in the package; its install script would download.
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    LOG_LEVEL=info \
    AGENT_HTTP_HOST=0.0.0.0 \
    METADATA_SERVER_DETECTION=auto
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY agent ./agent
COPY dispatcher ./dispatcher
COPY sessions ./sessions
COPY prompts ./prompts
COPY infra ./infra
USER node
# Cloud Run sends SIGTERM, then SIGKILL ~10 s later; AGENT_DRAIN_TIMEOUT_MS (8 s) fits inside.
STOPSIGNAL SIGTERM
CMD ["node", "--import", "tsx", "agent/worker.ts", "start"]
