#!/usr/bin/env bash
# gpu-check.sh — the one-call GPU check (bench/Sara.DeviceCheck): the emulator tests' parity cases on the real GPU,
# then a CUDA-event timing table, then every kernel of a SARA and a Mo-SARA training step at T = n = m = 4096
# (k = 16, 32, 64) timed launch by launch against its H200 floor (the launch census of bench/README.md), a short summary
# table last. Finishes in well under 8 minutes on an H200.
#
#   scripts/gpu-check.sh --pack      in a checkout with the .NET SDK (no GPU needed): publishes the self-contained,
#                                    trimmed linux-x64 binary and writes artifacts/gpu-check/sara-gpu-check.tar.gz
#                                    (binary + kernels/*.cu/*.cuh + this script + scripts/build-fatbin.sh).
#   ./gpu-check.sh                   inside the unpacked bundle on the GPU machine: nothing to install, no .NET.
#   scripts/gpu-check.sh             in a checkout on a GPU machine with the .NET SDK: publishes, then runs.
#
# On the GPU machine: with nvcc on PATH the kernels are built into fatbins first (scripts/build-fatbin.sh) and used;
# without nvcc NVRTC compiles them at first use. cuBLAS / cuSOLVER / NVRTC are looked up in the usual places (CUDA
# toolkit, distribution packages, conda, pip's nvidia-* wheels as installed with PyTorch) and added to LD_LIBRARY_PATH.
# Env: SARA_GPU_CHECK_TIMEOUT (seconds, default 450), SARA_GPU_CHECK_ARGS (extra arguments for the binary, e.g. --runs 50).
# Exit code: the binary's (0 all parity passed, 1 a parity case failed, 3 no CUDA device, 4 a GPU whose
# runtime cannot start), 124 on timeout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

publish() {   # $1 = checkout root, $2 = output folder
  echo "gpu-check: publishing bench/Sara.DeviceCheck (self-contained, trimmed, linux-x64)"
  dotnet publish "$1/bench/Sara.DeviceCheck" -c Release -r linux-x64 --self-contained -o "$2" --nologo -v quiet
}

if [ "${1:-}" = "--pack" ]; then
  root="$(cd "$here/.." && pwd)"
  stage="$root/artifacts/gpu-check/sara-gpu-check"
  rm -rf "$stage" && mkdir -p "$stage/bin" "$stage/kernels" "$stage/scripts"
  publish "$root" "$stage/bin"
  cp "$root"/kernels/*.cu "$root"/kernels/*.cuh "$stage/kernels/"
  cp "$root/scripts/build-fatbin.sh" "$stage/scripts/"
  cp "$root/scripts/gpu-check.sh" "$stage/gpu-check.sh"
  tar -C "$(dirname "$stage")" -czf "$root/artifacts/gpu-check/sara-gpu-check.tar.gz" sara-gpu-check
  size=$(du -b "$stage/bin/Sara.DeviceCheck" | cut -f1)
  echo "gpu-check: binary $((size / 1024 / 1024)) MiB; bundle $root/artifacts/gpu-check/sara-gpu-check.tar.gz"
  echo "gpu-check: on the GPU machine: tar xzf sara-gpu-check.tar.gz && ./sara-gpu-check/gpu-check.sh"
  exit 0
fi

# Bundle (bin/ beside this script) or checkout (publish first).
if [ -x "$here/bin/Sara.DeviceCheck" ]; then
  bundle="$here"
else
  root="$(cd "$here/.." && pwd)"
  bundle="$root/artifacts/gpu-check/run"
  mkdir -p "$bundle/kernels" "$bundle/scripts"
  publish "$root" "$bundle/bin"
  cp "$root"/kernels/*.cu "$root"/kernels/*.cuh "$bundle/kernels/"
  cp "$root/scripts/build-fatbin.sh" "$bundle/scripts/"
fi

# CUDA libraries: keep what the loader finds, add the usual install locations that exist.
extra=()
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-*/lib64 /opt/cuda/lib64 \
         "${CONDA_PREFIX:-/nonexistent}/lib" /usr/local/lib/python3*/dist-packages/nvidia/*/lib \
         /usr/lib/python3*/site-packages/nvidia/*/lib /usr/local/lib/python3*/site-packages/nvidia/*/lib \
         "$HOME"/.local/lib/python3*/site-packages/nvidia/*/lib /opt/conda/lib/python3*/site-packages/nvidia/*/lib; do
  [ -d "$d" ] && extra+=("$d")
done
if command -v python3 >/dev/null 2>&1; then
  while IFS= read -r d; do [ -d "$d" ] && extra+=("$d"); done < <(python3 - <<'PY' 2>/dev/null || true
import glob, os, site, sys
paths = set(site.getsitepackages() + [site.getusersitepackages()] + sys.path)
for p in paths:
    for d in glob.glob(os.path.join(p, "nvidia", "*", "lib")):
        print(d)
PY
)
fi
if [ ${#extra[@]} -gt 0 ]; then
  export LD_LIBRARY_PATH="$(IFS=:; echo "${extra[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

args=()
if command -v "${NVCC:-nvcc}" >/dev/null 2>&1; then
  fat="$(mktemp -d)"
  if SARA_FATBIN_OUT="$fat" bash "$bundle/scripts/build-fatbin.sh"; then
    args+=(--fatbin-dir "$fat")
  else
    echo "gpu-check: nvcc failed; NVRTC will compile the kernels instead"
  fi
else
  echo "gpu-check: nvcc not found; NVRTC compiles the kernels at first use"
fi

export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$(mktemp -d)}"   # a fresh kernel cache: this run compiles (or seeds) its own
set +e
# shellcheck disable=SC2086
timeout "${SARA_GPU_CHECK_TIMEOUT:-450}" "$bundle/bin/Sara.DeviceCheck" "${args[@]}" ${SARA_GPU_CHECK_ARGS:-} --out "$bundle/gpu-check-summary.txt"
rc=$?
set -e
[ $rc -eq 124 ] && echo "gpu-check: timed out after ${SARA_GPU_CHECK_TIMEOUT:-450} s"
exit $rc
