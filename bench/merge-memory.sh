#!/usr/bin/env bash
# merge-memory.sh — peak resident memory of `sara merge` against the size of the base checkpoint (issue 16, item 8).
# Writes a base of LAYERS x (DIM x DIM) F32 weights (zeros, sparse on disk) and a SARA adapter of rank K on every layer
# (zeros: finite), runs the merge under /usr/bin/time (or polls /proc/<pid>/status VmHWM when GNU time is absent), and
# prints base size, peak RSS and their ratio. Usage: bench/merge-memory.sh [SARA_BINARY] [LAYERS] [DIM] [K]
# Defaults: src/Sara.Cli/bin/Release/net10.0/sara, 8 layers of 4096 x 4096 (512 MiB), k = 16.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sara="${1:-$root/src/Sara.Cli/bin/Release/net10.0/sara}"
layers="${2:-8}" dim="${3:-4096}" k="${4:-16}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# safetensors FILE HEADER_JSON DATA_BYTES: 8-byte little-endian header length, the header, DATA_BYTES zero bytes (sparse).
safetensors() {
  local file="$1" header="$2" bytes="$3" n
  while [ $(( (${#header} + 8) % 8 )) -ne 0 ]; do header+=" "; done
  n=${#header}
  printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x' \
    $((n & 255)) $((n >> 8 & 255)) $((n >> 16 & 255)) $((n >> 24 & 255)) 0 0 0 0)" > "$file"
  printf '%s' "$header" >> "$file"
  truncate -s $((8 + n + bytes)) "$file"
}

w=$((dim * dim * 4)) a=$((dim * k * 4)) l=$((k * 4))
base="{" adapter="" table="" off=0 aoff=0
for ((i = 0; i < layers; i++)); do
  base+="\"layers.$i.weight\":{\"dtype\":\"F32\",\"shape\":[$dim,$dim],\"data_offsets\":[$off,$((off + w))]},"
  off=$((off + w))
  adapter+=",\"layers.$i.lambda\":{\"dtype\":\"F32\",\"shape\":[$k],\"data_offsets\":[$aoff,$((aoff + l))]}"
  adapter+=",\"layers.$i.A\":{\"dtype\":\"F32\",\"shape\":[$dim,$k],\"data_offsets\":[$((aoff + l)),$((aoff + l + a))]}"
  adapter+=",\"layers.$i.B\":{\"dtype\":\"F32\",\"shape\":[$k,$dim],\"data_offsets\":[$((aoff + l + a)),$((aoff + l + 2 * a))]}"
  aoff=$((aoff + l + 2 * a))
  table+="${table:+,}\\\"layers.$i\\\":{\\\"k\\\":$k,\\\"m\\\":$dim,\\\"n\\\":$dim}"
done
base+="\"norm\":{\"dtype\":\"F32\",\"shape\":[$dim],\"data_offsets\":[$off,$((off + dim * 4))]}}"
meta="\"__metadata__\":{\"format\":\"sara-adapter\",\"format_version\":\"1\",\"method\":\"sara\",\"criterion\":\"SumFraction\",\"tau\":\"0.2\",\"scale\":\"1\",\"experts\":\"0\",\"library_version\":\"bench\",\"layers\":\"{$table}\"}"
safetensors "$work/base.safetensors" "$base" $((off + dim * 4))
safetensors "$work/adapter.safetensors" "{$meta$adapter}" "$aoff"

size=$(stat -c %s "$work/base.safetensors")
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f "%M" -o "$work/rss" "$sara" merge "$work/base.safetensors" "$work/adapter.safetensors" -o "$work/out.safetensors" --device cpu
  peak_kib=$(tail -n 1 "$work/rss")
else
  "$sara" merge "$work/base.safetensors" "$work/adapter.safetensors" -o "$work/out.safetensors" --device cpu &
  pid=$! peak_kib=0
  while kill -0 "$pid" 2>/dev/null; do
    v=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$v" ] && peak_kib=$v
    sleep 0.02
  done
  wait "$pid"
fi
echo "base $((size >> 20)) MiB ($layers x ${dim}x$dim F32, largest tensor $((w >> 20)) MiB), adapter $((aoff >> 20)) MiB (k = $k): peak RSS $((peak_kib >> 10)) MiB = $(awk "BEGIN { printf \"%.2f\", $peak_kib * 1024 / $size }") x the base; load: $(cut -d' ' -f1-3 /proc/loadavg)"
