#!/usr/bin/env bash
# Configures and builds dualwrite. Usage: scripts/build.sh [default|asan|tsan]
# (a CMake preset; the build folder is build/, build-asan/ or build-tsan/).
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-default}"
dir=build
[ "$preset" = default ] || dir="build-$preset"
if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake --preset "$preset" >/dev/null
fi
cmake --build "$dir" -j"$(nproc)"
