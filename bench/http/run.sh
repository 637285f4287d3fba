#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# HTTP benchmark: drives wrk on loopback against mehdbd and, in the same
# run, against two bare servers answering a fixed 1 KiB body with nothing
# behind them: mehdbd's own event-driven front end (the new stack's ceiling)
# and cpp-httplib (the blocking stack mehdbd had before, which ran at the
# Go original's rate here). Prints requests/s, p50/p99 latency and the
# ratios the front-end issue sets targets for:
#   mehdbd GET 1 KiB            >= 0.8 x bare front end, >= 1.5 x bare cpp-httplib
#   mehdbd GET at 500 keep-alive connections: p99 <= 25 ms, rate within 10%
#                               of the 50-connection rate
#   mehdbd durable PUT 1 KiB    (reported; the write path's own issue sets its bar)
#   mehdbd durable PUT 1 KiB, random keys over a store preloaded with
#                               100,000 keys, >= 0.7 x Redis (redis-server
#                               started here: appendonly yes, appendfsync
#                               always; redis-benchmark -t set -d 1024
#                               -r 100000, the same connections)
#   /status?level=full at 100,000 keys within 10% of 0 keys
# plus /keys?limit=100 at 100,000 keys (the stores' key counts are checked
# before timing). Every row's sides alternate round by round. Then a
# sustained run: durable PUTs over the preloaded store for SUSTAIN, with
# mehdbd's RSS and the store's size on disk every 5 s. Not a test: numbers
# depend on the machine and on whatever else runs on it.
#
#   bench/http/run.sh [BUILD_DIR]        (default: build)
#   env: DURATION (5s per run), ROUNDS (3), CONNECTIONS (50), MANY (500),
#        WRK_THREADS (2), REDIS_REQUESTS (200000 per Redis run),
#        SUSTAIN (60, seconds), BENCH_DIR (default: a mktemp directory, removed)
set -euo pipefail

build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
mehdbd=$build/mehdbd/mehdbd
bare=$build/bench/http/bare_http_server
bare_fe=$build/bench/http/bare_frontend_server
fill=$build/bench/http/fill_store
duration=${DURATION:-5s}
rounds=${ROUNDS:-3}
connections=${CONNECTIONS:-50}
many=${MANY:-500}
wrk_threads=${WRK_THREADS:-2}
redis_requests=${REDIS_REQUESTS:-200000}
sustain=${SUSTAIN:-60}
for exe in "$mehdbd" "$bare" "$bare_fe" "$fill"; do
  [[ -x $exe ]] || { echo "run.sh: $exe not built (ninja -C $build)" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "run.sh: wrk not found (apt-get install wrk)" >&2; exit 2; }
for tool in redis-server redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null ||
    { echo "run.sh: $tool not found (apt-get install redis-server redis-tools)" >&2; exit 2; }
done

work=${BENCH_DIR:-$(mktemp -d)}
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n ${BENCH_DIR:-} ]] || rm -rf "$work"
}
trap cleanup EXIT

# A port nothing listens on (bash's /dev/tcp, so no extra tools), below
# the kernel's ephemeral range: a port there may be the local end of a
# connection in TIME-WAIT (thousands after a run), which no connect shows
# but which a listener cannot bind.
free_port() {
  local port low
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  while :; do
    port=$((10000 + RANDOM % (low - 10000)))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}
wait_port() {
  for _ in $(seq 1 500); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.02
  done
  echo "run.sh: nothing listens on port $1" >&2
  exit 1
}
# PUT a 1 KiB value with a raw request.
put_value() {
  local body
  body=$(head -c 1024 /dev/zero | tr '\0' 'v')
  exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf 'PUT %s HTTP/1.1\r\nHost: bench\r\nContent-Length: 1024\r\nConnection: close\r\n\r\n%s' \
    "$2" "$body" >&3
  cat <&3 >/dev/null
  exec 3<&-
}

declare -A rps p50 p99 runs failures
# measure NAME MODE URL [CONNECTIONS]: one wrk run, appended to NAME's runs.
# Errors (non-2xx answers, socket errors, timeouts) are counted per row and
# printed in the table: a row with failures says so.
measure() {
  local out line
  out=$(MODE=$2 wrk -t"$wrk_threads" -c"${4:-$connections}" -d"$duration" --timeout 10s \
          -s "$here/wrk.lua" "$3")
  line=$(grep '^RESULT' <<<"$out")
  read -r _ requests seconds lat50 lat99 errors <<<"$line"
  failures[$1]=$(( ${failures[$1]:-0} + errors ))
  runs[$1]+=$(awk -v r="$requests" -v s="$seconds" -v a="$lat50" -v b="$lat99" \
                'BEGIN { printf "%.0f %.2f %.2f\n", r / s, a / 1000, b / 1000 }')$'\n'
}
# measure_redis NAME: one redis-benchmark run of durable SETs, appended to
# NAME's runs. Errors Redis answered (its errorstats, reset before each run)
# are the row's failures.
measure_redis() {
  local line errors
  redis-cli -p "$redis_port" config resetstat >/dev/null
  line=$(redis-benchmark -h 127.0.0.1 -p "$redis_port" -t set -d 1024 -r 100000 \
           -c "$connections" -n "$redis_requests" --csv | grep '^"SET"' | tr -d '"' | tr ',' ' ')
  read -r _ r _ _ lat50 _ lat99 _ <<<"$line"
  errors=$(redis-cli -p "$redis_port" info errorstats | grep -c '^errorstat_' || true)
  failures[$1]=$(( ${failures[$1]:-0} + errors ))
  runs[$1]+=$(awk -v r="$r" -v a="$lat50" -v b="$lat99" 'BEGIN { printf "%.0f %.2f %.2f\n", r, a, b }')$'\n'
}
# The run with the median rate stands for NAME.
settle() {
  local line
  for name in "${!runs[@]}"; do
    line=$(sort -n <<<"${runs[$name]%$'\n'}" | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }')
    read -r rps[$name] p50[$name] p99[$name] <<<"$line"
  done
}
ratio() { awk -v a="${rps[$1]}" -v b="${rps[$2]}" 'BEGIN { printf "%.2f", a / b }'; }
# The key count mehdbd reports, to check a store holds what a row claims.
key_count() {
  exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf 'GET /status?level=full HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n' >&3
  tail -n 1 <&3 | tr -d '\r\n'
  exec 3<&-
}
require_keys() {  # require_keys PORT COUNT WHAT
  local count
  count=$(key_count "$1")
  if [[ $count != "$2" ]]; then
    echo "run.sh: the $3 answers $count keys, not $2; refusing to time it" >&2
    exit 1
  fi
}
# Resident memory of PID in MiB: all of it, and the anonymous part (the
# rest is the store's mapped file, which the kernel can drop at will).
rss_mib() { awk -v f="$2" '$1 == f":" { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

threads=64  # mehdbd's default --threads; the bare servers get the same
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

echo "bench/http: wrk -t$wrk_threads -c$connections (and -c$many) -d$duration x $rounds rounds" \
     "on $(nproc) cores; data in $work" >&2

# All servers run side by side; only one is loaded at a time. Alternating
# them round by round and taking medians keeps drift in the machine's load
# (this is a small, shared machine) out of the ratios.
bare_port=$(free_port)
"$bare" "$bare_port" "$threads" 100 & pids+=($!)
bare_fe_port=$(free_port)
"$bare_fe" "$bare_fe_port" "$threads" 100 & pids+=($!)
small_port=$(free_port)
"$mehdbd" --host=bench --bind=127.0.0.1 --port="$small_port" --peer-port="$(free_port)" \
  --datadir="$work/small" --threads="$threads" 2>"$work/mehdbd-small.log" & pids+=($!)
"$fill" "$work/big" 100000 1024
big_port=$(free_port)
"$mehdbd" --host=bench --bind=127.0.0.1 --port="$big_port" --peer-port="$(free_port)" \
  --datadir="$work/big" --threads="$threads" 2>"$work/mehdbd-big.log" & pids+=($!)
wait_port "$bare_port"
wait_port "$bare_fe_port"
wait_port "$small_port"
# The durable-PUT comparison with Redis: mehdbd over its own preloaded
# store, Redis with the same 100,000 keys written by an untimed run first.
"$fill" "$work/puts" 100000 1024
puts_port=$(free_port)
"$mehdbd" --host=bench --bind=127.0.0.1 --port="$puts_port" --peer-port="$(free_port)" \
  --datadir="$work/puts" --threads="$threads" 2>"$work/mehdbd-puts.log" & pids+=($!)
puts_pid=${pids[-1]}
mkdir -p "$work/redis"
redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$work/redis" --appendonly yes \
  --appendfsync always --save '' --daemonize no --logfile "$work/redis.log" & pids+=($!)
wait_port "$big_port"
wait_port "$puts_port"
wait_port "$redis_port"
require_keys "$big_port" 100000 "100,000-key store"
require_keys "$puts_port" 100000 "store for durable PUTs"
value=$(printf '%1024s' '' | tr ' ' v)
for ((k = 0; k < 100000; k++)); do printf 'SET key:%012d %s\r\n' "$k" "$value"; done |
  redis-cli -p "$redis_port" --pipe >/dev/null
redis_keys=$(redis-cli -p "$redis_port" dbsize)
[[ $redis_keys == 100000 ]] || { echo "run.sh: Redis holds $redis_keys keys, not 100000" >&2; exit 1; }

# /status at 0 keys first, while the small store is still empty.
measure status0 get "http://127.0.0.1:$small_port/status?level=full"
put_value "$small_port" /set/k
for round in $(seq 1 "$rounds"); do
  measure bare get "http://127.0.0.1:$bare_port/"
  measure bare_fe get "http://127.0.0.1:$bare_fe_port/"
  measure get get "http://127.0.0.1:$small_port/get/k"
  measure get_many get "http://127.0.0.1:$small_port/get/k" "$many"
  measure status100k get "http://127.0.0.1:$big_port/status?level=full"
  measure keys100 get "http://127.0.0.1:$big_port/keys?limit=100"
  measure put put "http://127.0.0.1:$small_port"
  measure put100k put_existing "http://127.0.0.1:$puts_port"
  measure_redis redis
  # Later rounds' 0-key baseline: a daemon on a fresh, empty directory.
  if [[ $round != 1 ]]; then
    port=$(free_port)
    "$mehdbd" --host=bench --bind=127.0.0.1 --port="$port" --peer-port="$(free_port)" \
      --datadir="$work/empty$round" --threads="$threads" 2>>"$work/mehdbd-empty.log" & pids+=($!)
    wait_port "$port"
    measure status0 get "http://127.0.0.1:$port/status?level=full"
    kill "${pids[-1]}"
  fi
done
settle

row() {
  local note=$3
  if [[ ${failures[$2]:-0} != 0 ]]; then note+="  [${failures[$2]} FAILED requests]"; fi
  printf '%-44s %9s %9s %9s   %s\n' "$1" "${rps[$2]}" "${p50[$2]}" "${p99[$2]}" "$note"
}
printf '%-44s %9s %9s %9s   %s\n' "benchmark (median of $rounds runs)" "req/s" "p50 ms" "p99 ms" "ratio"
row "bare cpp-httplib GET, 1 KiB body" bare "1.00 (baseline)"
row "bare mehdbd front end GET, 1 KiB body" bare_fe "$(ratio bare_fe bare) x bare cpp-httplib"
row "mehdbd GET /get/k, 1 KiB" get "$(ratio get bare_fe) x bare front end (target >= 0.80), $(ratio get bare) x cpp-httplib (target >= 1.50)"
row "mehdbd GET /get/k, 1 KiB, $many connections" get_many "$(ratio get_many get) x $connections connections (target >= 0.90; p99 target <= 25 ms)"
row "mehdbd PUT /set/..., 1 KiB, durable" put "$(ratio put get) x mehdbd GET"
row "Redis SET 1 KiB, fsync always, 100k keys" redis "1.00 (baseline for the next row)"
row "mehdbd PUT 1 KiB, durable, 100k keys" put100k "$(ratio put100k redis) x Redis (target >= 0.70)"
row "mehdbd /status?level=full, 0 keys" status0 "1.00 (baseline for the next row)"
row "mehdbd /status?level=full, 100k keys" status100k "$(ratio status100k status0) x 0 keys (target 0.90-1.10)"
row "mehdbd /keys?limit=100, 100k keys" keys100 "$(ratio keys100 bare_fe) x bare front end"

# Sustained durable PUTs over the preloaded store: memory and disk over time.
echo
echo "sustained: mehdbd durable PUT 1 KiB, random keys over 100k, -c$connections for ${sustain} s"
printf '%8s %10s %10s %14s %14s\n' "seconds" "RSS MiB" "anon MiB" "data.mdb MiB" "all files MiB"
MODE=put_existing wrk -t"$wrk_threads" -c"$connections" -d"${sustain}s" --timeout 10s \
  -s "$here/wrk.lua" "http://127.0.0.1:$puts_port" >"$work/sustain.out" &
wrk_pid=$!
for ((t = 0; t <= sustain; t += 5)); do
  printf '%8d %10s %10s %14.1f %14.1f\n' "$t" "$(rss_mib "$puts_pid" VmRSS)" "$(rss_mib "$puts_pid" RssAnon)" \
    "$(stat -Lc %s "$work/puts/current/data.mdb" | awk '{ print $1 / 1048576 }')" \
    "$(du -sbL "$work/puts" | awk '{ print $1 / 1048576 }')"
  sleep 5
done
wait "$wrk_pid"
read -r _ requests seconds lat50 lat99 errors <<<"$(grep '^RESULT' "$work/sustain.out")"
awk -v r="$requests" -v s="$seconds" -v a="$lat50" -v b="$lat99" -v e="$errors" \
  'BEGIN { printf "sustained: %.0f req/s, p50 %.2f ms, p99 %.2f ms%s\n", r / s, a / 1000, b / 1000,
           (e > 0 ? sprintf("  [%d FAILED requests]", e) : "") }'
require_keys "$puts_port" 100000 "store after the sustained run"
