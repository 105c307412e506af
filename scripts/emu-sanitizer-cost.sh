#!/usr/bin/env bash
# emu-sanitizer-cost.sh — what the emulator's sanitizer mode costs, measured on the emulator kernel tests
# (tests/sanitizer-pass.filter, the tests CI runs a second time in sanitizer mode), run back to back in one session:
#   fast       SARA_EMU_SANITIZE=0, one schedule (forward): the emulator as users run it
#   replay     SARA_EMU_SANITIZE=0, every launch forward then reverse (the first CI pass)
#   sanitize   SARA_EMU_SANITIZE=1, one schedule (shuffle:1)
#   ci         SARA_EMU_SANITIZE=1, SARA_EMU_SCHEDULE as build.cake's sanitizer pass
# and prints wall and CPU (user+sys) seconds per run with their ratios to `fast`, the load before and after, and
# the tests that cost most in sanitizer mode. Ratios of one session are what to quote; absolute times move with
# the machine's load. Needs a build (./build.sh --target=Build). Results and logs: artifacts/sanitizer-cost/.
#
#   scripts/emu-sanitizer-cost.sh [runs...]      default: fast replay sanitize ci
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="$root/artifacts/sanitizer-cost"
mkdir -p "$out"
filter="$(tr -d '\n' < tests/sanitizer-pass.filter)"
ci_schedules="$(sed -n 's/^const string SanitizerSchedules = "\(.*\)";/\1/p' build.cake)"
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(fast replay sanitize ci)

declare -A env_of=(
  [fast]="SARA_EMU_SANITIZE=0 SARA_EMU_SCHEDULE=forward"
  [replay]="SARA_EMU_SANITIZE=0 SARA_EMU_SCHEDULE=forward,reverse"
  [sanitize]="SARA_EMU_SANITIZE=1 SARA_EMU_SCHEDULE=shuffle:1"
  [ci]="SARA_EMU_SANITIZE=1 SARA_EMU_SCHEDULE=$ci_schedules"
)

echo "load before: $(uptime)"
declare -A wall cpu result
for r in "${runs[@]}"; do
  [ -n "${env_of[$r]:-}" ] || { echo "unknown run '$r' (fast, replay, sanitize, ci)"; exit 2; }
  rm -f "$out/$r.trx"
  TIMEFORMAT='%R %U %S'
  t="$( { time env ${env_of[$r]} dotnet test tests/Sara.Tests -c Release --no-build --filter "$filter" \
          --results-directory "$out" --logger "trx;LogFileName=$r.trx" > "$out/$r.log" 2>&1 || true; } 2>&1 )"
  wall[$r]="$(echo "$t" | awk '{print $1}')"
  cpu[$r]="$(echo "$t" | awk '{print $2 + $3}')"
  result[$r]="$(grep -Eo '(Passed|Failed)!.*Total: *[0-9]+' "$out/$r.log" | tail -n 1 || echo 'no result')"
  echo "$r (${env_of[$r]}): wall ${wall[$r]} s, cpu ${cpu[$r]} s; ${result[$r]}"
done
echo "load after: $(uptime)"

if [ -n "${wall[fast]:-}" ]; then
  echo
  printf '| run | wall s | cpu s | wall / fast | cpu / fast |\n|---|---|---|---|---|\n'
  for r in "${runs[@]}"; do
    awk -v r="$r" -v w="${wall[$r]}" -v c="${cpu[$r]}" -v fw="${wall[fast]}" -v fc="${cpu[fast]}" \
      'BEGIN { printf "| %s | %.1f | %.1f | %.2f | %.2f |\n", r, w, c, w / fw, c / fc }'
  done
fi

# The costliest tests in sanitizer mode, with their fast-mode time (test durations from the trx files).
if [ -f "$out/fast.trx" ] && [ -f "$out/sanitize.trx" ] && command -v python3 > /dev/null; then
  echo
  echo "costliest tests in sanitizer mode (seconds: fast, sanitize, ratio):"
  python3 - "$out/fast.trx" "$out/sanitize.trx" <<'PY'
import sys, xml.etree.ElementTree as ET
ns = '{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}'
def durations(path):
    root = ET.parse(path).getroot()
    cls = {u.get('id'): u.find(ns + 'TestMethod').get('className').split('.')[-1] for u in root.iter(ns + 'UnitTest')}
    d = {}
    for r in root.iter(ns + 'UnitTestResult'):
        h, m, s = r.get('duration').split(':')
        d[cls[r.get('testId')] + '.' + r.get('testName')] = int(h) * 3600 + int(m) * 60 + float(s)
    return d
fast, san = durations(sys.argv[1]), durations(sys.argv[2])
for k in sorted((k for k in san if k in fast), key=lambda k: -san[k])[:12]:
    print(f"  {fast[k]:7.2f} {san[k]:7.2f} {san[k] / max(fast[k], 1e-3):5.1f}x  {k}")
PY
fi
