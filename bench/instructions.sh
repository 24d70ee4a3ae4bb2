#!/bin/bash
# Instructions per payment (POST + GET, in-process, SQLite) under valgrind's cachegrind: deterministic where CPU time
# on a shared machine is not, for comparing two versions of the hot path. Needs valgrind. About 2 minutes.
#   bench/instructions.sh [SRC_DIR]   (default: this checkout's src; another tree's src/ to compare)
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${1:-$PWD/src}
count() {
  PYTHONHASHSEED=0 PYTHONPATH=$SRC valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
    .venv/bin/python bench/inproc.py -n "$1" 2>&1 | awk '/I *refs/ {gsub(",", "", $4); print $4}'
}
few=$(count 50)
many=$(count 250)
echo "$SRC: $(( (many - few) / 200 )) instructions per payment"
