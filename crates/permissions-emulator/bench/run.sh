#!/usr/bin/env bash
# Benchmark of the permissions emulator (not a test): requests per second of list
# (limit=100, a 14 KB page) and create, in memory and with SQLite, side by side with
# two references on the same machine and load generator:
#   - ceiling: a minimal axum server answering one pre-serialized page of the same size;
#   - prism:   `prism mock openapi/permissions.yaml` (optional; skipped when absent).
# Then the p99 latency of the in-memory list at half the ceiling's rate.
#
# Needs wrk (`apt-get install -y wrk`) and, for the Prism column,
# `npm install -g @stoplight/prism-cli@5.16.0`. Everything listens on 127.0.0.1.
# Usage: crates/permissions-emulator/bench/run.sh   (env: DURATION=10s CONNS=32 THREADS=1)
set -euo pipefail

DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-1}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
key="Authorization: Bearer sk-admin-bench"
list_path="/fine_tuning/checkpoints/ft:bench/permissions?limit=100"
create_path="/fine_tuning/checkpoints/ft:bench-create/permissions"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
(cd "$root" && cargo build --quiet --release -p permissions-emulator --example bench_server)
server="$target/release/examples/bench_server"

tmp=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

wait_for() { # url
    for _ in $(seq 1 300); do
        curl -s -o /dev/null -H "$key" "$1" && return 0
        sleep 0.1
    done
    echo "no answer from $1" >&2
    return 1
}

start() { # name port args...
    local name=$1 port=$2
    shift 2
    "$server" "$name" "127.0.0.1:$port" "$@" >"$tmp/$name.log" 2>&1 &
    pids+=($!)
    wait_for "http://127.0.0.1:$port/v1$list_path"
}

# wrk, then "req/s p50 p99" from its report.
measure() { # url [wrk args...]
    local url=$1
    shift
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "$key" "$@" "$url" >"$tmp/wrk.out" 2>&1
    awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Non-2xx/ {bad=$NF}
         END {printf "%.0f %s %s %s", rps, p50, p99, (bad == "" ? 0 : bad)}' "$tmp/wrk.out"
}

cat >"$tmp/create.lua" <<'LUA'
-- One new project per request, so every create writes.
local counter = 0
local prefix = string.format("%08x", math.random(0, 0x7fffffff))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
    counter = counter + 1
    local body = '{"project_ids":["proj_' .. prefix .. '_' .. counter .. '"]}'
    return wrk.format(nil, nil, nil, body)
end
LUA
cat >"$tmp/paced.lua" <<'LUA'
-- Each connection waits 1 ms between requests: an open-ish rate of about
-- connections * 1000 / (1 + latency in ms) requests per second.
function delay() return 1 end
LUA

start ceiling 19101
start memory 19102
start sqlite 19103 "$tmp/bench.db"
prism_url=""
if command -v prism >/dev/null; then
    prism mock -h 127.0.0.1 -p 19104 "$root/openapi/permissions.yaml" >"$tmp/prism.log" 2>&1 &
    pids+=($!)
    wait_for "http://127.0.0.1:19104$list_path" && prism_url="http://127.0.0.1:19104"
fi

echo "# wrk -t$THREADS -c$CONNS -d$DURATION, $(nproc) cores, $(date -u +%FT%TZ)"
printf "%-28s %10s %9s %9s %8s\n" "target" "req/s" "p50" "p99" "non-2xx"
row() { # label url [wrk args...]
    local label=$1
    shift
    wrk -t1 -c8 -d1s -H "$key" "$@" >/dev/null 2>&1 || true # warm-up
    read -r rps p50 p99 bad <<<"$(measure "$@")"
    printf "%-28s %10s %9s %9s %8s\n" "$label" "$rps" "$p50" "$p99" "$bad"
    eval "rps_${label//[^a-z0-9]/_}=$rps"
}
row "list ceiling" "http://127.0.0.1:19101/v1$list_path"
row "list memory" "http://127.0.0.1:19102/v1$list_path"
row "list sqlite" "http://127.0.0.1:19103/v1$list_path"
[ -n "$prism_url" ] && row "list prism" "$prism_url$list_path"
row "create memory" "http://127.0.0.1:19102/v1$create_path" -s "$tmp/create.lua"
row "create sqlite" "http://127.0.0.1:19103/v1$create_path" -s "$tmp/create.lua"
[ -n "$prism_url" ] && row "create prism" "$prism_url$create_path" -s "$tmp/create.lua"

# p99 of the in-memory list at about half the ceiling's rate. wrk paces each
# connection with a 1 ms delay (timer granularity makes it longer), so a short probe
# calibrates how many connections give the target rate.
half=$((rps_list_ceiling / 2))
probe_conns=$(( half / 500 + 1 ))
read -r probe _ <<<"$(DURATION=3s CONNS=$probe_conns measure "http://127.0.0.1:19102/v1$list_path" -s "$tmp/paced.lua")"
conns=$(( probe_conns * half / (probe > 0 ? probe : 1) + 1 ))
read -r rps p50 p99 bad <<<"$(CONNS=$conns measure "http://127.0.0.1:19102/v1$list_path" -s "$tmp/paced.lua")"
echo
echo "paced list memory: target ~$half req/s, $conns connections: got $rps req/s, p50 $p50, p99 $p99, non-2xx $bad"
echo
echo "list memory / ceiling: $(awk "BEGIN {printf \"%.2f\", $rps_list_memory / $rps_list_ceiling}")"
echo "list sqlite / memory:  $(awk "BEGIN {printf \"%.2f\", $rps_list_sqlite / $rps_list_memory}")"
if [ -n "$prism_url" ]; then
    echo "list memory / prism:   $(awk "BEGIN {printf \"%.1f\", $rps_list_memory / $rps_list_prism}")"
fi
