#!/usr/bin/env bash
# Load test of the portal: starts a release build of `wabapool demo` on a
# fresh database (SQLite, then PostgreSQL when reachable), signs in, and
# measures a static file and the WABA Pool listing with wrk, side by side.
# Results go to target/portal-load.md; copy them into docs/PERFORMANCE.md.
#
#   bash benches/portal_load.sh            # 10 s per target, 16 connections
#   DURATION=30s CONNECTIONS=32 bash benches/portal_load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
PG_SERVER=${PG_SERVER:-postgres://postgres@127.0.0.1:5432}
# shellcheck source=benches/lib.sh
source benches/lib.sh
cargo build --release --quiet
BIN=target/release/wabapool
OUT=target/portal-load.md
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

measure() { # label url cookie
  local report rps p50 p99 errors
  report=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Cookie: $3" "$2")
  rps=$(rps_of "$report")
  p50=$(percentile_of "$report" 50%)
  p99=$(percentile_of "$report" 99%)
  errors=$(awk '/Non-2xx or 3xx responses/ {print $5} /Socket errors/ {print $0}' <<<"$report" | tr '\n' ' ')
  printf '| %s | %s | %s | %s | %s | %s |\n' "$BACKEND" "$1" "$rps" "$p50" "$p99" "${errors:-0}" | tee -a "$OUT"
}

run_backend() { # backend database-url
  BACKEND=$1
  local port base jar_e jar_a cookie_e cookie_a pid
  port=$(free_port); base="http://127.0.0.1:$port"
  WABAPOOL_DATA_DIR="$WORK/data-$1" WABAPOOL_LOG=warn "$BIN" demo --reset --bind "127.0.0.1:$port" --database-url "$2" >"$WORK/$1.log" 2>&1 &
  pid=$!
  wait_until_up "$base/healthz" "$pid" "$WORK/$1.log" 0.1
  cookie_e=$(sign_in "$base" admin@acme.example "$DEMO_PASSWORD" "$WORK/jar-e-$1")
  cookie_a=$(sign_in "$base" admin@northwind.example "$DEMO_PASSWORD" "$WORK/jar-a-$1")
  measure "static file /static/css/app.css" "$base/static/css/app.css" ""
  measure "listing, enterprise admin" "$base/channels/whatsapp/pools" "$cookie_e"
  measure "listing, aggregator admin (all enterprises)" "$base/channels/whatsapp/pools" "$cookie_a"
  measure "listing, aggregator, search q=acme" "$base/channels/whatsapp/pools?q=acme" "$cookie_a"
  measure "Add Pool page" "$base/channels/whatsapp/pools/new" "$cookie_e"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

{
  echo "Run $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores; wrk -t$THREADS -c$CONNECTIONS -d$DURATION on the same machine."
  echo
  echo "| backend | target | requests/s | median | p99 | errors |"
  echo "|---|---|---|---|---|---|"
} >"$OUT"
run_backend sqlite "$WORK/bench.sqlite3"
if psql "$PG_SERVER/postgres" -qAtc 'select 1' >/dev/null 2>&1; then
  psql "$PG_SERVER/postgres" -qc 'DROP DATABASE IF EXISTS wabapool_bench' -qc 'CREATE DATABASE wabapool_bench' >/dev/null
  run_backend postgres "$PG_SERVER/wabapool_bench"
  psql "$PG_SERVER/postgres" -qc 'DROP DATABASE IF EXISTS wabapool_bench WITH (FORCE)' >/dev/null
fi
echo; cat "$OUT"
