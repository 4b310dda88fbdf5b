# syntax=docker/dockerfile:1
# devx-webhook, the admission webhook server (charts/devx runs it). Three stages: compile the TypeScript, install the
# production dependencies alone, and copy both onto a distroless Node.js 24 base that has no shell and no package
# manager and runs as a non-root user. No HEALTHCHECK: Kubernetes probes /healthz and /readyz (see the chart).
#
#   docker build -t devx-webhook:0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" .
#
# Node.js here is the version the repository pins for itself (package.json devDependencies.node); a test keeps them
# equal, and that the runtime base is the same major.
ARG NODE_VERSION=24.21.0

# 1. Build: the same two steps as CI (npm ci, npm run build), producing dist/.
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# 2. Production dependencies only, without install scripts (none of them needs one).
FROM node:${NODE_VERSION}-bookworm-slim AS prod-deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# 3. Runtime: Node.js 24 and nothing else; uid/gid 65532 ("nonroot"), the uid the chart's securityContext names.
FROM gcr.io/distroless/nodejs24-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=""
ARG CREATED=""
ARG SOURCE=""
LABEL org.opencontainers.image.title="devx-webhook" \
      org.opencontainers.image.description="Dev mode for Kubernetes workloads with one label: the mutating admission webhook and reconciler of devx" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
ENV NODE_ENV=production
# package.json says "type": "module": without it Node would not load dist/ as ES modules.
COPY package.json ./
COPY --from=prod-deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER 65532:65532
# The webhook (HTTPS) and, with --probe-port as the chart runs it, the probes (plain HTTP).
EXPOSE 8443 8081
# The server itself, flags from the pod's args (charts/devx/templates/deployment.yaml).
ENTRYPOINT ["/nodejs/bin/node", "--enable-source-maps", "/app/dist/cli/devx-webhook.js"]
