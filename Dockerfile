# syntax=docker/dockerfile:1
# One multi-stage image, one target per service; every target runs compiled JavaScript (dist/)
# under tini, as the unprivileged `node` user, with production dependencies only.
#   docker build --target agent      -t voicecare-agent .       # agent worker (the default)
#   docker build --target dispatcher -t voicecare-dispatcher .
#   docker build --target api        -t voicecare-api .
# tests/image-contents.test.ts reads this file and .dockerignore: it assembles what each stage
# copies in a clean folder and runs a full call from there. It knows these RUN commands:
# `npm ci [--omit=dev]`, `npm run build` and `apt-get install` (checked as installed).
#
# Base image pinned by digest (node:20-bookworm-slim, linux/amd64+arm64 index), as found pinned in
# public Dockerfiles by code search on 2026-12-01; confirm it before the first push with
#   docker buildx imagetools inspect node:20-bookworm-slim
# and bump it the same way (or let Renovate/Dependabot's docker digest updates open the PR).
ARG NODE_IMAGE=node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0

# ---- build: every dependency, then `npm run build` → /app/dist --------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
# The sources the build needs: .dockerignore lets in only those (no tests, no bench).
COPY . .
RUN npm run build

# ---- prod-deps: production dependencies only (no tsx, no test tools) ---------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# onnxruntime-node ships its CPU binaries in the package; .npmrc skips its downloading script.
RUN npm ci --omit=dev --no-audit --no-fund

# ---- runtime: what every service shares ------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    LOG_LEVEL=info \
    METADATA_SERVER_DETECTION=auto
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist ./dist
USER node
# tini reaps the framework's forked job processes and passes SIGTERM on to node.
ENTRYPOINT ["/usr/bin/tini", "--"]
# Cloud Run sends SIGTERM, then SIGKILL ~10 s later: drains (AGENT_DRAIN_TIMEOUT_MS 6.5 s,
# DISPATCHER_SHUTDOWN_TIMEOUT_MS) are set to finish inside it.
STOPSIGNAL SIGTERM

# ---- api: the HTTP control plane (Cloud Run service; listens on $PORT) -------------------------
FROM runtime AS api
ENV PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/api/main.js"]

# ---- dispatcher: Pub/Sub → LiveKit dispatch; /healthz /readyz /metrics on $PORT ---------------
FROM runtime AS dispatcher
ENV PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/dispatcher/main.js"]

# ---- agent (default): the LiveKit agent worker, with the offline speech engines ---------------
FROM runtime AS agent
USER root
# The local engines are the last fallback of the default chains (and the whole chain offline):
# pocketsphinx listens, espeak-ng speaks. Without them the worker drops them at startup.
RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng pocketsphinx pocketsphinx-en-us \
 && rm -rf /var/lib/apt/lists/*
USER node
# The framework's health server answers `/` (200 once registered with LiveKit); /metrics for
# the autoscaler on its own port.
ENV AGENT_HTTP_HOST=0.0.0.0 \
    AGENT_HTTP_PORT=8081 \
    AGENT_METRICS_PORT=9464
EXPOSE 8081 9464
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.AGENT_HTTP_PORT+'/').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/agent/worker.js", "start"]
