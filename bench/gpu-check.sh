#!/usr/bin/env bash
# The GPU check in one command, for a machine with an NVIDIA GPU (see bench/gpu-check.ts for what it checks):
#   bash bench/gpu-check.sh [gpu-check.js options, e.g. --seconds 5 --concurrency 64 --out DIR]
# Installs what it needs (npm packages, onnxruntime-node's CUDA provider libraries, the heavy model), then runs
# the check under a time limit (GPU_CHECK_TIMEOUT_SECONDS, default 480). Without a GPU it says so and exits 0.
#
# onnxruntime-node's CUDA provider libraries come from its installer, which downloads them from nuget.org, not the
# npm registry: where only npm is reachable, put the extracted Microsoft.ML.OnnxRuntime.Gpu.Linux 1.30.0 native
# files (runtimes/linux-x64/native/libonnxruntime_providers_{shared,cuda}.so) in ORT_CUDA_PROVIDER_DIR. CUDA 12 and
# cuDNN 9 must be on the machine (the loader's path, LD_LIBRARY_PATH or /usr/local/cuda/lib64).
set -euo pipefail
cd "$(dirname "$0")/.."
limit="${GPU_CHECK_TIMEOUT_SECONDS:-480}"
say() { echo "gpu-check: $*" >&2; }

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  say "skipped: no NVIDIA GPU on this machine (nvidia-smi -L lists none)"
  exit 0
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2

# 1. npm packages (install scripts off, as the project's .npmrc has it; the CUDA download is step 2).
if [ ! -d node_modules/onnxruntime-node ]; then
  say "installing npm packages"
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --ignore-scripts --no-audit --no-fund >&2
fi

# 2. onnxruntime-node's CUDA provider libraries.
bin=node_modules/onnxruntime-node/bin/napi-v6/linux/x64
if [ ! -f "$bin/libonnxruntime_providers_cuda.so" ]; then
  say "installing onnxruntime-node's CUDA 12 provider libraries"
  ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install >&2 || true
fi
if [ ! -f "$bin/libonnxruntime_providers_cuda.so" ] && [ -n "${ORT_CUDA_PROVIDER_DIR:-}" ]; then
  cp "$ORT_CUDA_PROVIDER_DIR"/libonnxruntime_providers_shared.so "$ORT_CUDA_PROVIDER_DIR"/libonnxruntime_providers_cuda.so "$bin/"
fi
if [ ! -f "$bin/libonnxruntime_providers_cuda.so" ]; then
  say "FAILED: onnxruntime-node's CUDA provider libraries are not installed and could not be downloaded (nuget.org unreachable?);"
  say "        set ORT_CUDA_PROVIDER_DIR to the extracted Microsoft.ML.OnnxRuntime.Gpu.Linux 1.30.0 native folder"
  exit 1
fi

# 3. CUDA 12 and cuDNN 9 as the provider library needs them.
if [ -d /usr/local/cuda/lib64 ]; then export LD_LIBRARY_PATH="/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
missing="$(ldd "$bin/libonnxruntime_providers_cuda.so" | awk '/not found/ {print $1}' | tr '\n' ' ')"
if [ -n "$missing" ]; then
  say "the CUDA provider cannot load: missing ${missing}(CUDA 12 / cuDNN 9); the check goes on and reports the service's own reason"
fi

# 4. Build, and the heavy model if it is not there yet.
node build.mjs --quiet
if [ ! -f service/models/flight-delay-heavy/MLmodel ]; then
  say "building the heavy model (npm run model:build -- --heavy)"
  node dist/service/model-kit/build.js --heavy >&2
fi

# 5. The check, within the time limit.
exec timeout --signal=TERM --kill-after=10 "$limit" node dist/bench/gpu-check.js "$@"
