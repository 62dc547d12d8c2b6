# The flexibench harness image: the CLI (`node bin/flexibench.js`) as entrypoint, the committed
# reference model (models/flexidepth-ref) inside, datasets and other models mounted at run time.
#
#   docker build -t flexibench:0.1.0 .
#   docker run --rm -v "$PWD/../shared/datasets:/datasets:ro" -v "$PWD/results:/results" \
#     flexibench:0.1.0 run --db /results/flexibench.duckdb
#
# Mount points (each also a command-line option, so any other path works too):
#   /datasets  the data directory (--data-dir DIR; $FLEXIBENCH_DATA_DIR defaults to /datasets here):
#              `flexibench data pull --data-dir /datasets` fills it, or copy a mirror into it
#   /models    other checkpoints, Hugging Face layout (--model /models/NAME); without --model, the
#              reference model baked into the image
#   /results   study databases and reports (--db /results/FILE.duckdb); must be writable by uid 1000
#   /cache     built ONNX graphs ($FLEXIBENCH_CACHE_DIR); per container, e.g. an emptyDir: concurrent
#              builders of one graph on a shared folder could clash on their temporary file names
#
# CUDA variant (--ep cuda): build FROM an image that has CUDA 12 and cuDNN 9 runtime libraries and
# Node 20 (e.g. nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 with Node 20 installed from
# nodejs.org), with `--build-arg ONNXRUNTIME_NODE_INSTALL=cuda12` so that onnxruntime-node's install
# script downloads its CUDA execution provider (this needs network during the build).
FROM node:20-bookworm-slim

# onnxruntime-node's install script downloads CUDA libraries unless told to skip; the CPU library
# ships in the npm package, so the CPU image needs no network for it.
ARG ONNXRUNTIME_NODE_INSTALL=skip
ENV ONNXRUNTIME_NODE_INSTALL=${ONNXRUNTIME_NODE_INSTALL}

WORKDIR /opt/flexibench
COPY . .
# `npm ci` installs exactly what package-lock.json pins and runs `prepare`, which compiles the
# TypeScript into dist/ (bin/flexibench.js runs that build). Then the dev tools (typescript, eslint,
# vitest, ...) go: the build needs them, the CLI does not.
RUN npm ci --no-audit --no-fund \
  && npm prune --omit=dev --no-audit --no-fund \
  && npm cache clean --force \
  && mkdir -p /datasets /models /results /cache \
  && chown node:node /results /cache

# The image has no git: runs it stores record git_revision as null; the image tag names the code.
ENV FLEXIBENCH_DATA_DIR=/datasets \
    FLEXIBENCH_CACHE_DIR=/cache

# node (uid 1000, gid 1000) comes with the base image. Kubernetes: runAsUser/fsGroup 1000 make a
# mounted volume writable.
USER node
ENTRYPOINT ["node", "/opt/flexibench/bin/flexibench.js"]
CMD ["--help"]
