#!/usr/bin/env bash
# build-fatbin.sh — the shipping kernel binaries (DESIGN 2.1, path 1).
# With nvcc on PATH: one fatbin per kernels/<name>.cu -> artifacts/kernels/<name>.fatbin holding SASS for sm_80
# and sm_90 plus compute_90 PTX (JIT-able by newer GPUs). Sara.Native embeds them and loads them with
# cuModuleLoadData. Without nvcc: says NVRTC will compile the embedded sources at first use, and exits 0.
# Env: NVCC (default nvcc), SARA_FATBIN_OUT (default <repo>/artifacts/kernels).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nvcc="${NVCC:-nvcc}"
out="${SARA_FATBIN_OUT:-$root/artifacts/kernels}"

if ! command -v "$nvcc" >/dev/null 2>&1; then
  echo "build-fatbin: nvcc not found; no fatbin built. NVRTC will compile kernels/*.cu for the GPU at first run (cached in \${XDG_CACHE_HOME:-~/.cache}/sara-native)."
  exit 0
fi

shopt -s nullglob
sources=("$root"/kernels/*.cu)
if [ ${#sources[@]} -eq 0 ]; then
  echo "build-fatbin: no kernels/*.cu to build."
  exit 0
fi

mkdir -p "$out"
# Stale fatbins (from a .cu since removed or renamed) would shadow nothing but still ship: clear them first.
rm -f "$out"/*.fatbin

echo "build-fatbin: $("$nvcc" --version | tail -n 1)"
for src in "${sources[@]}"; do
  name="$(basename "$src" .cu)"
  "$nvcc" -fatbin -std=c++17 -O3 -I "$root/kernels" \
    -gencode arch=compute_80,code=sm_80 \
    -gencode arch=compute_90,code=sm_90 \
    -gencode arch=compute_90,code=compute_90 \
    -Xptxas=-warn-spills \
    -o "$out/$name.fatbin" "$src"
  echo "build-fatbin: $out/$name.fatbin"
done
