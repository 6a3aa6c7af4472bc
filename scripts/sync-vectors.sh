#!/usr/bin/env bash
# Copies the reference vectors from ../shared/vectors (beside the repository) into test/vectors.
set -euo pipefail
cd "$(dirname "$0")/.."
src=../shared/vectors
[ -d "$src" ] || { echo "no $src beside the repository" >&2; exit 1; }
for f in "$src"/*; do install -m 644 "$f" test/vectors/; done
echo "copied $(ls "$src" | wc -l) files into test/vectors"
