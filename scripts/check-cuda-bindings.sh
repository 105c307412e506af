#!/usr/bin/env bash
# check-cuda-bindings.sh — compiles scripts/bindings-check/cuda-bindings.c against the CUDA 11.8 headers of Debian 12's
# nvidia-cuda-dev (downloaded, never installed: apt-get download + dpkg-deb -x into a temp folder, ~774 MB), so each
# binding's C# signature is checked against the real prototype and each enum value against the header.
# Needs apt (non-free listed, as build.sh arranges) and gcc. Prints "CUDA bindings match the CUDA 11.8 headers" on success.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get download nvidia-cuda-dev >/dev/null
dpkg-deb --fsys-tarfile nvidia-cuda-dev_*.deb | tar -x --wildcards '*.h' '*.hpp'
rm -f nvidia-cuda-dev_*.deb
gcc -std=c11 -Wall -Werror -Werror=incompatible-pointer-types -I "$work/usr/include" -c "$root/scripts/bindings-check/cuda-bindings.c" -o /dev/null
echo "CUDA bindings match the CUDA 11.8 headers"
