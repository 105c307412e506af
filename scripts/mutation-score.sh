#!/usr/bin/env bash
# mutation-score.sh — does the emulator's sanitizer catch a missing barrier anywhere in the kernels?
#
# Mutants: each `__syncthreads();` and `__syncwarp(...);` statement of kernels/*.cu and kernels/common.cuh deleted
# one at a time, plus the three seeded bugs of issue 10's table that are not barrier deletions (the L-tile bounds
# check of lr_fetch in the split-K rank-k partials, __syncthreads -> __syncwarp in sara_column_sum, sara_warp_sum's
# mask 0x0000ffff).
# For each: the copy of kernels/ in a scratch folder is mutated, the emulator rebuilt there (only the mutated file's
# objects), and the emulator kernel tests (tests/sanitizer-pass.filter) run in sanitizer mode against it
# (SARA_EMU_LIBRARY), stopped at the first failed test. A mutant is killed when the run fails. Prints one line per
# mutant and `killed K of N`; exits 1 when a mutant survives. The unmodified kernels must pass first.
# Needs a build (./build.sh --target=Build); about 1-2 minutes per surviving mutant, less per killed one.
#
#   scripts/mutation-score.sh [FILE...]     FILE: kernel files to mutate (default: all, e.g. svd.cu reduce.cu)
# Env: SARA_MUTATION_SCHEDULE (default shuffle:1), SARA_MUTATION_KEEP=1 keeps the scratch folder (with each mutant's log).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
started=$SECONDS
schedule="${SARA_MUTATION_SCHEDULE:-shuffle:1}"
filter="$(tr -d '\n' < tests/sanitizer-pass.filter)"
work="$(mktemp -d "${TMPDIR:-/tmp}/sara-mutation.XXXXXX")"
[ "${SARA_MUTATION_KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
cp -r kernels "$work/kernels"

build() {
  cmake --build "$work/build" -j"$(nproc)" > "$work/build.log" 2>&1 ||
    { echo "mutation-score: the emulator does not build:"; tail -n 20 "$work/build.log"; return 1; }
}
run_tests() { # status of the sanitizer-mode test run against the scratch library; stops at the first failed test
  local pid rc=0
  # Its own process group, so the whole run (dotnet test and its test host) can be stopped by id at the first
  # failure (NUnit's StopOnError hangs the adapter).
  SARA_EMU_LIBRARY="$work/native/libsara_emu.so" SARA_EMU_SANITIZE=1 SARA_EMU_SCHEDULE="$schedule" \
    setsid dotnet test tests/Sara.Tests -c Release --no-build --filter "$filter" --logger "console;verbosity=normal" \
    > "$work/test.log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2> /dev/null; do
    if grep -qE '^\s+Failed ' "$work/test.log" 2> /dev/null; then
      sleep 3 # the failure's message follows its line
      kill -- "-$pid" 2> /dev/null || true
      break
    fi
    sleep 1
  done
  wait "$pid" || rc=$?
  { grep -m1 -E '^\s+Failed ' "$work/test.log" | sed -E 's/^\s+Failed //'; } > "$work/first" || true
  # The check that fired (the first sanitizer diagnostic in the failure's message), or that the values were wrong.
  grep -m1 -oE '(memcheck|racecheck|initcheck|synccheck): [^(]{0,60}' "$work/test.log" > "$work/check" || echo "a wrong result" > "$work/check"
  [ -s "$work/first" ] && return 1
  return $rc
}

echo "mutation-score: building the emulator in $work (schedule $schedule)"
cmake -S "$work/kernels/emu" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DSARA_EMU_OUTPUT_DIR="$work/native" -Wno-dev > "$work/configure.log" 2>&1
build
if ! run_tests; then
  echo "mutation-score: the unmodified kernels fail in sanitizer mode (first: $(cat "$work/first")); see $work/test.log"
  SARA_MUTATION_KEEP=1
  exit 2
fi

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=()
  for f in kernels/*.cu kernels/common.cuh; do files+=("$(basename "$f")"); done
fi

killed=0
total=0
total_logs=0
survivors=()
# mutate FILE LABEL PERL-SUBSTITUTION: applies it to the scratch copy of FILE, rebuilds, tests, restores.
mutate() {
  local file="$1" label="$2" expr="$3" target="$work/kernels/$1"
  cp "$target" "$work/original"
  perl -0pi -e "$expr" "$target"
  if cmp -s "$target" "$work/original"; then
    echo "  n/a     $file: $label (its text is no longer in the file)"
    return
  fi
  total=$((total + 1))
  local t0=$SECONDS log
  total_logs=$((total_logs + 1))
  log="$work/mutant-$total_logs.log"
  if ! build; then
    echo "  killed  $file: $label (does not compile)"
    killed=$((killed + 1))
  elif run_tests; then
    echo "  SURVIVED $file: $label ($((SECONDS - t0)) s)"
    survivors+=("$file: $label")
  else
    echo "  killed  $file: $label ($((SECONDS - t0)) s): $(cat "$work/check") in $(cut -c1-100 "$work/first")"
    killed=$((killed + 1))
  fi
  cp "$work/test.log" "$log" 2> /dev/null || true
  cp "$work/original" "$target"
}

barrier='__sync(?:threads\(\s*\)|warp\([^;]*?\))\s*;'
for file in "${files[@]}"; do
  n="$(perl -0ne "my \$c = () = /$barrier/g; print \$c" "kernels/$file")"
  for k in $(seq 1 "$n"); do
    line="$(K=$k perl -0ne "my \$n = 0; while (/$barrier/g) { if (++\$n == \$ENV{K}) { print 1 + (substr(\$_, 0, \$-[0]) =~ tr/\\n//); last } }" "kernels/$file")"
    mutate "$file" "barrier $k of $n deleted (line $line)" "my \$n = 0; s/$barrier/(++\$n == $k) ? ';' : \$&/ge"
  done
done

# The table's seeded bugs that are not barrier deletions (exact text of the current kernels).
for spec in \
  'lowrank.cu|L-tile load without its bounds check|s/\(t >= T \|\| i >= d\) \? lr_zero4\(\) : (vec \? sara_load4<TL>\(L, o\))/$1/' \
  'reduce.cu|sara_column_sum barrier as __syncwarp|s/(red\[warp\]\[lane \* V \+ v\] = sum\[v\];\s*)__syncthreads\(\);/$1__syncwarp();/' \
  'common.cuh|sara_warp_sum mask 0x0000ffff|s/(v \+= __shfl_xor_sync\()SARA_FULL_MASK/${1}0x0000ffffu/'; do
  IFS='|' read -r file label expr <<< "$spec"
  if [ ${#@} -eq 0 ] || printf '%s\n' "${files[@]}" | grep -qx "$file"; then mutate "$file" "$label" "$expr"; fi
done

echo "killed $killed of $total ($(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s, schedule $schedule)"
[ ${#survivors[@]} -eq 0 ] || { printf 'survived: %s\n' "${survivors[@]}"; exit 1; }
