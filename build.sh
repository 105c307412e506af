#!/usr/bin/env bash
# Entry point on a fresh Debian 12 machine with only the .NET SDK:
# installs the system packages the project needs (idempotently), restores the local tools, runs a cake target.
#   ./build.sh                  -> target Demo (the main job)
#   ./build.sh --target=Test    -> every test
set -euo pipefail
cd "$(dirname "$0")"

need_pkgs=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in libnvrtc11.2 libnvrtc-builtins11.8 libopenblas0 liblapacke g++ cmake make; do
  have_pkg "$p" || need_pkgs+=("$p")
done

if [ "${#need_pkgs[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  # The CUDA bits (NVRTC) live in Debian's non-free component, which a fresh machine does not list.
  src=/etc/apt/sources.list.d/debian.sources
  if [ -f "$src" ] && ! grep -q "non-free" "$src"; then
    $SUDO sed -i 's/^Components: main$/Components: main contrib non-free non-free-firmware/' "$src"
  elif [ ! -f "$src" ] && ! grep -rqs "non-free" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb http://deb.debian.org/debian bookworm main contrib non-free non-free-firmware" | $SUDO tee /etc/apt/sources.list.d/sara-non-free.list >/dev/null
  fi
  echo "build.sh: installing ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet tool restore >/dev/null
summary=artifacts/test-results/summary.txt
rm -f "$summary"
rc=0
dotnet cake build.cake "$@" || rc=$?
# The test run's last line must be the count line: cake's own task table would otherwise come last.
[ -f "$summary" ] && cat "$summary"
exit "$rc"
