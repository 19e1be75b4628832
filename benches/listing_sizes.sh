#!/usr/bin/env bash
# Whether a listing page costs the same whatever the tenant's size: one
# aggregator, 6 numbers and 2 pools per enterprise, at two sizes (SIZES,
# enterprises; 1,000 and 16,000 by default: 2,000 and 32,000 pools), on
# SQLite and, when PG_SERVER answers, on PostgreSQL. For each: the time
# `wabapool bench-data` takes, then wrk (CONNECTIONS, 32 by default) against
# the listing's page 1, a deep page (the middle one), a search, the
# overview, the audit log and the pools CSV; the deep page paced at half
# its peak with `paced_load` (its p99); the server's peak memory (VmHWM).
# Results go to target/listing-sizes.md; copy them into docs/PERFORMANCE.md.
#
#   DURATION=5s bash benches/listing_sizes.sh
#   SIZES="1000 16000 50000" bash benches/listing_sizes.sh   (50,000 enterprises: 100,000 pools)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-32}
PACED_CONNECTIONS=${PACED_CONNECTIONS:-16}
SIZES=${SIZES:-1000 16000}
PG_SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=$PWD/target/release/wabapool
fi
if [ -z "${PACED:-}" ]; then
  cargo build --release --quiet --example paced_load
  PACED=$PWD/target/release/examples/paced_load
fi
OUT=target/listing-sizes.md
WORK=$(mktemp -d)
export WABAPOOL_DATA_DIR=$WORK/data WABAPOOL_LOG=warn
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
now() { date +%s.%N; }

rate() { # url cookie; wrk's requests/s
  rps_of "$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Cookie: $2" "$1")"
}

measure() { # backend database-url enterprises
  local backend=$1 url=$2 enterprises=$3 started filled port base pid cookie pools pages deep
  "$BIN" migrate --database-url "$url" >/dev/null
  started=$(now)
  "$BIN" bench-data --database-url "$url" --aggregators 1 --enterprises "$enterprises" \
    --numbers-per-enterprise 6 --pools-per-enterprise 2 --password "$DEMO_PASSWORD" >/dev/null
  filled=$(python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$started" "$(now)")
  port=$(free_port); base="http://127.0.0.1:$port"
  "$BIN" serve --bind "127.0.0.1:$port" --database-url "$url" >"$WORK/serve.log" 2>&1 &
  pid=$!
  wait_until_up "$base/readyz" "$pid" "$WORK/serve.log" 0.01
  cookie=$(sign_in "$base" admin@aggregator-1.bench "$DEMO_PASSWORD" "$WORK/jar")
  pools=$((enterprises * 2)); pages=$(((pools + 49) / 50)); deep="$base/channels/whatsapp/pools?page=$((pages / 2))"
  local first deep_rate search overview audit csv_s half p99 hwm
  first=$(rate "$base/channels/whatsapp/pools" "$cookie")
  deep_rate=$(rate "$deep" "$cookie")
  search=$(rate "$base/channels/whatsapp/pools?q=Pool+01" "$cookie")
  overview=$(rate "$base/overview?page=$((enterprises / 100))" "$cookie")
  audit=$(rate "$base/audit" "$cookie")
  csv_s=$(python3 -c "import sys; print(round(float(sys.argv[1]), 2))" \
    "$(curl -s -o /dev/null -w '%{time_total}' -H "Cookie: $cookie" "$base/channels/whatsapp/pools.csv")")
  half=$(python3 -c "print(max(1, int(float('$deep_rate') / 2)))")
  p99=$(percentile_of "$("$PACED" --rate "$half" --connections "$PACED_CONNECTIONS" --duration "$DURATION" -H "Cookie: $cookie" "$deep")" "99%")
  hwm=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "| $backend | $enterprises ($pools) | ${filled} s | $first | $deep_rate | $search | $overview | $audit | ${csv_s} s | $p99 at $half/s | $hwm MiB |" >>"$OUT"
}

{
  echo "Listing by tenant size, $(date -u '+%Y-%m-%d %H:%M') UTC, build $(git rev-parse --short HEAD), wrk -c$CONNECTIONS $DURATION windows."
  echo
  echo "| backend | enterprises (pools) | bench-data | page 1/s | deep page/s | search/s | overview/s | audit/s | pools.csv | p99 deep, half load | VmHWM |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
} >"$OUT"
for size in $SIZES; do
  measure SQLite "$WORK/size-$size.sqlite3" "$size"
  rm -f "$WORK/size-$size.sqlite3"*
done
if psql "$PG_SERVER/postgres" -qc 'SELECT 1' >/dev/null 2>&1; then
  for size in $SIZES; do
    psql "$PG_SERVER/postgres" -qc 'DROP DATABASE IF EXISTS wabapool_sizes_bench' -c 'CREATE DATABASE wabapool_sizes_bench' >/dev/null
    measure PostgreSQL "$PG_SERVER/wabapool_sizes_bench" "$size"
  done
  psql "$PG_SERVER/postgres" -qc 'DROP DATABASE IF EXISTS wabapool_sizes_bench' >/dev/null
fi
cat "$OUT"
