#!/usr/bin/env bash
# Fuzzes every target for SECONDS each, two at a time (the CI machine has two
# cores), starting from a copy of the committed corpus so the run never grows
# tests/fuzz/corpus. Fails if any target finds a crash, leak, timeout or
# out-of-memory input; prints each target's exec count either way.
#
#   tests/fuzz/run.sh BUILDDIR SECONDS
#
# BUILDDIR must be a clang build configured with -Dfuzz=true (see README,
# "Fuzzing"). A failing run keeps its work directory and prints where the
# inputs that broke a target are; replay one with
#   BUILDDIR/tests/fuzz/<target>_fuzz <file>
set -euo pipefail
if (($# != 2)); then
  echo "usage: $0 BUILDDIR SECONDS" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
targets=(http_request key_rule log_decode snapshot_decode config)

for t in "${targets[@]}"; do
  exe="$build/tests/fuzz/${t}_fuzz"
  if [[ ! -x $exe ]]; then
    echo "missing $exe: build $build first" >&2
    exit 2
  fi
  if ! grep -q LLVMFuzzerRunDriver "$exe"; then
    echo "$exe is not a libFuzzer build: configure with CC=clang CXX=clang++ -Dfuzz=true" >&2
    exit 2
  fi
done

# Stores go to /dev/shm when there is one: the targets open a fresh LMDB
# store per input, and memory-backed files keep that cheap.
base=${TMPDIR:-/tmp}
[[ -d /dev/shm && -w /dev/shm ]] && base=/dev/shm
work=$(mktemp -d "$base/mehdb-fuzz-run.XXXXXX")

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

run_one() {
  local t=$1 dir="$work/$1"
  mkdir -p "$dir/corpus" "$dir/tmp" "$dir/artifacts"
  cp -r "$here/corpus/$t/." "$dir/corpus/"
  local dict=()
  [[ -f $here/$t.dict ]] && dict=("-dict=$here/$t.dict")
  # -timeout: an input running 10 s is a hang, not a slow machine.
  TMPDIR="$dir/tmp" "$build/tests/fuzz/${t}_fuzz" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
    "${dict[@]}" "$dir/corpus" >"$dir/log" 2>&1
}

declare -A pid_of=()
for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= 2)); do wait -n || true; done
  echo "fuzzing $t for ${seconds}s"
  run_one "$t" &
  pid_of[$t]=$!
done

failed=()
for t in "${targets[@]}"; do
  status=0
  wait "${pid_of[$t]}" || status=$?
  dir="$work/$t"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
  found=$(find "$dir/artifacts" -type f | wc -l)
  printf '%-16s %10s execs %8s exec/s  exit %d  %d finding(s)\n' \
    "$t" "${execs:-?}" "${rate:-?}" "$status" "$found"
  if ((status != 0 || found != 0)); then
    failed+=("$t")
    echo "---- $t: last lines of $dir/log"
    tail -n 40 "$dir/log"
    find "$dir/artifacts" -type f -printf '  finding: %p\n'
  fi
done

if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]} (work directory kept: $work)"
  exit 1
fi
rm -rf "$work"
echo "all fuzz targets ran clean"
