#!/usr/bin/env bash
# The send API on each backend in one run: SQLite with one instance,
# PostgreSQL with one instance and PostgreSQL with two instances on one
# database, each with the Graph API sandbox answering at once (CONNECTIONS
# wrk connections) and after DELAY_MS, as Meta does (SLOW_CONNECTIONS).
# Each configuration gets a fresh `wabapool bench-data` dataset, its own
# sandbox process and fresh servers; the pool is the dataset's send pool of
# ten HIGH numbers (10,000 messages/s together), so the server is what
# limits the run. With two instances, wrk runs once against each, with half
# the connections; their rates add up and the larger p99 is reported.
# Results go to target/send-scaling.md; copy them into docs/PERFORMANCE.md.
#
#   bash benches/send_scaling.sh
#   PG=postgres://postgres@127.0.0.1:5432 DURATION=8s bash benches/send_scaling.sh
#   BIN=/tmp/wabapool-before bash benches/send_scaling.sh   (another build)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh
DURATION=${DURATION:-8s}
CONNECTIONS=${CONNECTIONS:-64}
SLOW_CONNECTIONS=${SLOW_CONNECTIONS:-512}
DELAY_MS=${DELAY_MS:-150}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
PG_DB=wabapool_send_scaling
ENTERPRISES=${ENTERPRISES:-20}
CONFIGURATIONS=${CONFIGURATIONS:-sqlite pg1 pg2}
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=$PWD/target/release/wabapool
fi
OUT=target/send-scaling.md
WORK=$(mktemp -d)
export WABAPOOL_DATA_DIR=$WORK/data WABAPOOL_LOG=warn
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

fresh_database() { # backend; prints the URL of an empty database
  if [ "$1" = sqlite ]; then
    rm -f "$WORK"/send.sqlite3*
    echo "$WORK/send.sqlite3"
  else
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB" >/dev/null
    echo "$PG/$PG_DB"
  fi
}

to_ms() { # wrk's duration (850.00us, 12.34ms, 1.20s); prints milliseconds
  awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); print v/1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v+0 } else if (v ~ /s$/) { sub(/s$/,"",v); print v*1000 } else print v }' <<<"$1"
}

measure() { # connections delay-ms ports...; prints "rate p99-ms errors"
  local connections=$1 delay=$2; shift 2
  local each=$((connections / $#)) i=0 pids=()
  curl -sf -o /dev/null -H 'Content-Type: application/json' -d "{\"ms\": $delay}" "http://127.0.0.1:$sandbox_port/_sandbox/delay"
  for port in "$@"; do
    i=$((i + 1))
    send_script "$i" "$send_pool" "$api_key" >"$WORK/send$i.lua"
    wrk -t2 -c"$each" -d"$DURATION" --timeout 10s --latency -s "$WORK/send$i.lua" "http://127.0.0.1:$port" >"$WORK/wrk$i.txt" &
    pids+=($!)
  done
  wait "${pids[@]}"
  local rate=0 p99=0 errors=0 report
  for ((j = 1; j <= i; j++)); do
    report=$(cat "$WORK/wrk$j.txt")
    rate=$(python3 -c "print(round($rate + $(rps_of "$report")))")
    p99=$(python3 -c "print(max($p99, $(to_ms "$(percentile_of "$report" 99%)")))")
    # Answers other than 201, and requests wrk gave up on ("Socket errors: … timeout N").
    errors=$((errors + $(awk '/Unexpected answers/ {print $3}' <<<"$report") + $(awk '/Socket errors/ {n = $NF} END {print n + 0}' <<<"$report")))
  done
  echo "$rate $p99 $errors"
}

declare -A rows
configuration() { # backend instances label
  local backend=$1 instances=$2 label=$3 url filled ports=() pid
  url=$(fresh_database "$backend")
  "$BIN" migrate --database-url "$url" >/dev/null
  filled=$("$BIN" bench-data --database-url "$url" --aggregators 1 --enterprises "$ENTERPRISES" \
    --numbers-per-enterprise 20 --pools-per-enterprise 1 --password "$DEMO_PASSWORD" \
    --sandbox-fixture "$WORK/sandbox.json" --api-key)
  send_pool=$(sed -n 's/^send through pool \([0-9]*\) .*/\1/p' <<<"$filled")
  api_key=$(grep -o 'wbp_[A-Za-z0-9]*' <<<"$filled")
  [ -n "$send_pool" ] && [ -n "$api_key" ] || { echo "bench-data gave no pool or API key to send with"; exit 1; }
  sandbox_port=$(free_port)
  "$BIN" sandbox --bind "127.0.0.1:$sandbox_port" --fixture "$WORK/sandbox.json" >"$WORK/sandbox.log" 2>&1 &
  local sandbox=$!
  wait_until_up "http://127.0.0.1:$sandbox_port/_sandbox/calls" $sandbox "$WORK/sandbox.log" 0.05
  local servers=()
  for ((n = 1; n <= instances; n++)); do
    ports+=("$(free_port)")
    WABAPOOL_META_GRAPH_URL=http://127.0.0.1:$sandbox_port "$BIN" serve --bind "127.0.0.1:${ports[-1]}" --database-url "$url" >"$WORK/serve$n.log" 2>&1 &
    pid=$!
    servers+=("$pid")
    wait_until_up "http://127.0.0.1:${ports[-1]}/readyz" "$pid" "$WORK/serve$n.log" 0.02
  done
  rows["$label fast"]=$(measure "$CONNECTIONS" 0 "${ports[@]}")
  rows["$label slow"]=$(measure "$SLOW_CONNECTIONS" "$DELAY_MS" "${ports[@]}")
  kill "${servers[@]}" "$sandbox"
  wait "${servers[@]}" "$sandbox" 2>/dev/null || true
}

for which in $CONFIGURATIONS; do
  case $which in
    sqlite) configuration sqlite 1 "SQLite, one instance" ;;
    pg1) configuration pg 1 "PostgreSQL, one instance" ;;
    pg2) configuration pg 2 "PostgreSQL, two instances" ;;
  esac
done

ratio() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'{a / b:.2f}' if b else '-')" "$1" "$2"; }
{
  echo "Send API, $(date -u '+%Y-%m-%d %H:%M') UTC, build $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $DURATION per row."
  echo
  echo "| backend | sandbox at once, $CONNECTIONS connections: messages/s | p99 | errors | sandbox after $DELAY_MS ms, $SLOW_CONNECTIONS connections: messages/s | p99 | errors |"
  echo "|---|---|---|---|---|---|---|"
  for label in "SQLite, one instance" "PostgreSQL, one instance" "PostgreSQL, two instances"; do
    [ -n "${rows["$label fast"]:-}" ] || continue
    read -r fr fp fe <<<"${rows["$label fast"]}"
    read -r sr sp se <<<"${rows["$label slow"]}"
    echo "| $label | $fr | $fp ms | $fe | $sr | $sp ms | $se |"
  done
  [ "$CONFIGURATIONS" = "sqlite pg1 pg2" ] || exit 0
  read -r sqlite_fast _ <<<"${rows["SQLite, one instance fast"]}"
  read -r sqlite_slow _ <<<"${rows["SQLite, one instance slow"]}"
  read -r pg1_fast _ <<<"${rows["PostgreSQL, one instance fast"]}"
  read -r pg1_slow _ <<<"${rows["PostgreSQL, one instance slow"]}"
  read -r pg2_fast _ <<<"${rows["PostgreSQL, two instances fast"]}"
  echo
  echo "PostgreSQL with one instance: $(ratio "$pg1_fast" "$sqlite_fast")× SQLite at once, $(ratio "$pg1_slow" "$sqlite_slow")× after $DELAY_MS ms; two instances: $(ratio "$pg2_fast" "$pg1_fast")× one."
} | tee "$OUT"
