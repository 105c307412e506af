#!/usr/bin/env bash
# build-fatbin.sh — the shipping kernel binaries (DESIGN 2.1, path 1).
# With nvcc on PATH: one fatbin per kernels/<name>.cu -> artifacts/kernels/<name>.fatbin holding SASS for sm_80
# and sm_90 plus compute_90 PTX (JIT-able by newer GPUs). Sara.Native embeds them and loads them with
# cuModuleLoadData. Without nvcc: says NVRTC will compile the embedded sources at first use, and exits 0.
#
# Host compiler: nvcc needs one it supports (Debian's nvcc 11.8 refuses gcc 12 but accepts clang-14). NVCC_CCBIN names
# it; otherwise a trivial kernel is compiled with the same -gencode flags using nvcc's default, then the compiler nvcc's
# error suggests ("-ccbin X"), then g++-13..9 and clang-17..11 found on PATH, and the first that works is used for
# every kernel. When none works (or nvcc cannot target sm_80 / sm_90) the script prints one warning line, builds no
# fatbin and exits 0: the kernels are then compiled by NVRTC at first use. An optional toolchain never fails the build.
# A kernel that fails with a host compiler that passed the probe is an error in the kernel: exit 1.
# Env: NVCC (default nvcc), NVCC_CCBIN (host compiler), SARA_FATBIN_OUT (default <repo>/artifacts/kernels).
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
# Stale fatbins (from a .cu since removed or renamed, or from an earlier toolchain) would shadow NVRTC: clear them first.
rm -f "$out"/*.fatbin

gencode=(-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
printf '__global__ void sara_probe(float* x) { x[threadIdx.x] += 1.0f; }\n' > "$work/probe.cu"

# probe HOST: compiles the trivial kernel with -ccbin HOST (nvcc's default when HOST is empty); output in $work/log.
probe() {
  local ccbin=()
  [ -n "$1" ] && ccbin=(-ccbin "$1")
  "$nvcc" "${ccbin[@]}" -fatbin -std=c++17 "${gencode[@]}" -o "$work/probe.fatbin" "$work/probe.cu" >"$work/log" 2>&1
}

candidates=()
if [ -n "${NVCC_CCBIN:-}" ]; then
  candidates=("$NVCC_CCBIN")
else
  candidates=("")
fi
chosen=none
tried=()
i=0
while [ $i -lt ${#candidates[@]} ]; do
  c="${candidates[$i]}"
  i=$((i + 1))
  tried+=("${c:-default}")
  if probe "$c"; then chosen="$c"; break; fi
  if [ -z "$c" ] && [ -z "${NVCC_CCBIN:-}" ]; then
    first_error="$(grep -m1 -iE 'error|fatal' "$work/log" || head -n1 "$work/log" || true)"
    suggested="$(grep -oE -- "-ccbin[ =']+[A-Za-z0-9_.+/-]+" "$work/log" | head -n1 | sed -E "s/-ccbin[ =']+//" || true)"
    [ -n "$suggested" ] && command -v "$suggested" >/dev/null 2>&1 && candidates+=("$suggested")
    for v in 13 12 11 10 9; do command -v "g++-$v" >/dev/null 2>&1 && candidates+=("g++-$v"); done
    for v in 17 16 15 14 13 12 11; do command -v "clang-$v" >/dev/null 2>&1 && candidates+=("clang-$v"); done
  fi
done

if [ "$chosen" = none ]; then
  echo "build-fatbin: warning: $("$nvcc" --version 2>/dev/null | tail -n 1) builds no sm_80/sm_90 fatbin with any host compiler tried (${tried[*]}; NVCC_CCBIN=<compiler> names one): ${first_error:-$(head -n1 "$work/log")}; skipping fatbins, NVRTC will compile kernels/*.cu at first run"
  exit 0
fi

ccbin=()
[ -n "$chosen" ] && ccbin=(-ccbin "$chosen")
echo "build-fatbin: $("$nvcc" --version | tail -n 1), host compiler ${chosen:-(nvcc default)}"
for src in "${sources[@]}"; do
  name="$(basename "$src" .cu)"
  "$nvcc" "${ccbin[@]}" -fatbin -std=c++17 -O3 -I "$root/kernels" "${gencode[@]}" \
    -Xptxas=-warn-spills \
    -o "$out/$name.fatbin" "$src"
  echo "build-fatbin: $out/$name.fatbin"
done
