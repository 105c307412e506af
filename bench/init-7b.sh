#!/usr/bin/env bash
# `sara init` on an N-block Llama-2-7B-shaped bf16 checkpoint (q/k/v/o 4096x4096, gate/up 11008x4096, down 4096x11008
# per block; power-law head of 256 directions over a Gaussian bulk), timed, with peak RSS; writes
# bench/results/init-7b-<N>blocks-<device>.md and deletes the checkpoint afterwards (KEEP=1 keeps it).
#   bench/init-7b.sh 1                 # quick: 1 block, ~0.4 GB on disk
#   bench/init-7b.sh 32                # the whole 7B shape: ~13.5 GB on disk
#   SARA_DEVICE=cuda bench/init-7b.sh 32
# Needs a Release build (./build.sh --target=Build, or dotnet build Sara.Native.sln -c Release).
set -euo pipefail
cd "$(dirname "$0")/.."
blocks=${1:-1}
work=${2:-artifacts/bench-init}
device=${SARA_DEVICE:-cpu}
bench=bench/Sara.Bench/bin/Release/net10.0/Sara.Bench.dll
sara=src/Sara.Cli/bin/Release/net10.0/sara.dll
[ -f "$bench" ] && [ -f "$sara" ] || { echo "build first: dotnet build Sara.Native.sln -c Release" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work"
dotnet "$bench" make-checkpoint --blocks "$blocks" --out "$work/ckpt"
disk=$(du -sh "$work/ckpt" | cut -f1)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
command=(dotnet "$sara" init "$work/ckpt/model.safetensors.index.json" -o "$work/adapter.safetensors" --device "$device")
"${command[@]}" | tee "$work/init.log"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
machine="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB"
dotnet "$bench" summarize-init --log "$work/init.log" --blocks "$blocks" --disk "$disk" --machine "$machine" \
  --load "$load_before / $load_after" --command "${command[*]}" --out "bench/results/init-7b-${blocks}blocks-${device}.md"
[ "${KEEP:-0}" = 1 ] || rm -rf "$work"
