#!/usr/bin/env bash
# Load test on the large-tenant dataset, in one run on SQLite:
#   1. `wabapool bench-data` fills a fresh database (1,000 enterprises,
#      20,000 numbers, 5,000 pools by default) and the time it takes;
#   2. cold start: from launching `wabapool serve` on it to /readyz answering 200;
#   3. wrk against a static file, the pool listing (aggregator view over all
#      its enterprises, page of 50, with and without a search), the Add Pool
#      page, pool edit POSTs (each connection renames its own pool at its
#      current version) and sign-ins (argon2id at OWASP parameters);
#   4. the send API: template messages to distinct recipients through
#      `POST /api/v1/pools/{id}/messages` with an API key, against the Graph
#      API sandbox serving every WABA and number of the dataset (its fixture
#      and the key come from `bench-data --sandbox-fixture FILE --api-key`).
#      The pool is "Pool 00 of enterprise 00001" (ten members): bench-data
#      gives the first enterprise's numbers HIGH throughput (1,000 messages/s
#      each, 10,000/s for the pool), so the server is what limits the run, not
#      the per-number limit of 80/s a STANDARD number has;
#      (the listing's peak is the median of three windows, since it sets
#      the rate of the listing's half-load rows);
#   5. the static file and the listing at half of their peak rate, paced:
#      wrk is closed-loop (a connection's next request leaves when its last
#      answer arrives), so its p99 at saturation is queueing. The half-load
#      rows come from `paced_load` (benches/tools/paced_load.rs), which offers
#      requests on a fixed schedule and times each from when it was due. The
#      listing's runs WINDOWS windows (3 by default) and reports the median
#      of their p99s beside each one's: a stall of the machine of a few tens
#      of milliseconds in one window is that window's p99 on its own;
#   6. the static file paced at half its peak alone and again beside 16
#      concurrent sign-ins, PAIRS such pairs (9 by default), and the ratio
#      of the median p99 beside them to the median p99 alone: a stall of
#      the machine in one window (other services share these two cores)
#      moves one p99 by several times, and the medians leave it out (for
#      each pair, how many 10 ms slices its slowest 1% fell in tells a stall
#      from a spread tail); then
#      the same pair overloaded (wrk with half the connections keeps both
#      cores busy, so sign-ins and the file fight for them), for comparison;
#   7. the server's resident memory after each target and its peak (VmHWM).
# Results go to target/large-tenant-load.md; copy them into docs/PERFORMANCE.md.
#
#   bash benches/large_tenant_load.sh
#   ENTERPRISES=200 DURATION=5s bash benches/large_tenant_load.sh
#   BIN=/tmp/wabapool-before bash benches/large_tenant_load.sh   (another build, for a before/after pair)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/lib.sh
source benches/lib.sh
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
PACED_CONNECTIONS=${PACED_CONNECTIONS:-16}
PAIRS=${PAIRS:-9}
WINDOWS=${WINDOWS:-3}
AGGREGATORS=${AGGREGATORS:-20}
ENTERPRISES=${ENTERPRISES:-1000}
NUMBERS=${NUMBERS:-20}
POOLS=${POOLS:-5}
PASSWORD=$DEMO_PASSWORD
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=$PWD/target/release/wabapool
fi
if [ -z "${PACED:-}" ]; then
  cargo build --release --quiet --example paced_load
  PACED=$PWD/target/release/examples/paced_load
fi
OUT=target/large-tenant-load.md
WORK=$(mktemp -d)
DB=$WORK/large.sqlite3
export WABAPOOL_DATA_DIR=$WORK/data WABAPOOL_LOG=warn
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
elapsed_ms() { python3 -c "import sys; print(round((float(sys.argv[2]) - float(sys.argv[1])) * 1000))" "$1" "$2"; }

# ---------------------------------------------------------------- the dataset
"$BIN" migrate --database-url "$DB" >/dev/null
started=$(now)
filled=$("$BIN" bench-data --database-url "$DB" --aggregators "$AGGREGATORS" --enterprises "$ENTERPRISES" \
  --numbers-per-enterprise "$NUMBERS" --pools-per-enterprise "$POOLS" --password "$PASSWORD" \
  --sandbox-fixture "$WORK/sandbox.json" --api-key)
fill_ms=$(elapsed_ms "$started" "$(now)")
# "send through pool ID of enterprise ID with API key KEY"
send_pool=$(sed -n 's/^send through pool \([0-9]*\) .*/\1/p' <<<"$filled")
api_key=$(grep -o 'wbp_[A-Za-z0-9]*' <<<"$filled")
[ -n "$send_pool" ] && [ -n "$api_key" ] || { echo "bench-data gave no pool or API key to send with"; exit 1; }

# ---------------------------------------------------------------- the Graph API sandbox
sandbox_port=$(free_port)
"$BIN" sandbox --bind "127.0.0.1:$sandbox_port" --fixture "$WORK/sandbox.json" >"$WORK/sandbox.log" 2>&1 &
wait_until_up "http://127.0.0.1:$sandbox_port/_sandbox/calls" $! "$WORK/sandbox.log" 0.05
export WABAPOOL_META_GRAPH_URL=http://127.0.0.1:$sandbox_port

# ---------------------------------------------------------------- cold start
port=$(free_port); base="http://127.0.0.1:$port"
started=$(now)
"$BIN" serve --bind "127.0.0.1:$port" --database-url "$DB" >"$WORK/serve.log" 2>&1 &
pid=$!
wait_until_up "$base/readyz" "$pid" "$WORK/serve.log" 0.005
cold_ms=$(elapsed_ms "$started" "$(now)")

# ---------------------------------------------------------------- sign in
JAR=$WORK/jar
cookie=$(sign_in "$base" admin@aggregator-1.bench "$PASSWORD" "$JAR")
csrf=$(curl -s -b "$JAR" "$base/channels/whatsapp/pools" | csrf_of)
[ -n "$csrf" ] || { echo "could not sign in as admin@aggregator-1.bench"; exit 1; }

# ---------------------------------------------------------------- wrk scripts
# Sign-ins: one pre-login cookie and token replayed; the right password, so
# every request runs a full argon2id verification.
read -r login_cookie login_token <<<"$(login_form "$base" "$WORK/jar-login")"
# Both scripts count answers other than the expected 303 to the listing
# (a sign-out, a refusal, a stale version) and report them as errors.
{
  counting_lua
  cat <<'EOF'
function expected(status, headers)
  local location = headers["location"] or headers["Location"]
  if status == 303 and location == "/channels/whatsapp/pools" then return true end
  unexpected = (unexpected or 0) + 1
  return false
end
EOF
} >"$WORK/expect.lua"
{
  cat "$WORK/expect.lua"
  cat <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "$login_cookie"
wrk.body = "csrf_token=$(urlencode "$login_token")&email=admin%40aggregator-2.bench&password=$PASSWORD"
function setup(thread) count_thread(thread) end
function response(status, headers, body) expected(status, headers) end
EOF
} >"$WORK/login.lua"

# Pool edits: the first CONNECTIONS pools of aggregator 1, one per wrk thread
# (one connection each, so the thread knows its pool's version).
cp "$WORK/expect.lua" "$WORK/pools.lua"
python3 - "$DB" "$CONNECTIONS" >>"$WORK/pools.lua" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("""
  SELECT p.id, p.name, p.version FROM pools p
  JOIN enterprises e ON e.id = p.enterprise_id
  JOIN users u ON u.aggregator_id = e.aggregator_id AND u.email = 'admin@aggregator-1.bench'
  ORDER BY p.id LIMIT ?""", (int(sys.argv[2]),)).fetchall()
print("pools = {")
for pid, name, version in rows:
    members = "&".join(f"phone_number_ids={n}" for (n,) in db.execute(
        "SELECT number_id FROM pool_members WHERE pool_id = ? ORDER BY slot", (pid,)))
    print(f'  {{ id = {pid}, name = "{name}", version = {version}, members = "{members}" }},')
print("}")
EOF
cat >>"$WORK/pools.lua" <<EOF
setup = number_thread
function init(args)
  pool = pools[index]
  version = pool.version
  turn = 0
end
function request()
  turn = 1 - turn
  local name = pool.name .. (turn == 1 and " b" or "")
  local body = "csrf_token=$(urlencode "$csrf")&version=" .. version .. "&name=" .. name:gsub(" ", "+") .. "&" .. pool.members
  return wrk.format("POST", "/channels/whatsapp/pools/" .. pool.id,
    { ["Content-Type"] = "application/x-www-form-urlencoded", ["Cookie"] = "$cookie" }, body)
end
function response(status, headers, body)
  if expected(status, headers) then version = version + 1 end
end
EOF

send_script "" "$send_pool" "$api_key" >"$WORK/send.lua"

# ---------------------------------------------------------------- measuring
seconds=${DURATION%s}
run_wrk() { # threads connections extra-args... ; prints wrk's report
  local t=$1 c=$2; shift 2
  wrk -t"$t" -c"$c" -d"$DURATION" --latency "$@"
}
run_paced() { # rate extra-args... ; prints paced_load's report, in wrk's layout
  local rate=$1; shift
  "$PACED" --rate "$rate" --connections "$PACED_CONNECTIONS" --duration "$DURATION" "$@"
}
p99_us_of() { # the p99 of a report in microseconds
  awk '$1=="99%" { v = $2; n = v + 0
    if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1000000; else print n }' <<<"$1"
}
row() { # label report
  local rps p50 p99 non2xx socket rss
  rps=$(rps_of "$2")
  p50=$(percentile_of "$2" 50%)
  p99=$(percentile_of "$2" 99%)
  non2xx=$(awk '/Non-2xx or 3xx responses/ {n += $NF} /Unexpected answers/ {n += $3} END {print n + 0}' <<<"$2")
  socket=$(awk '/Socket errors/ {sub(/^ *Socket errors: */, ""); print}' <<<"$2")
  rss=$(awk '/VmRSS/ {printf "%d MiB", $2 / 1024}' "/proc/$pid/status")
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$rps" "$p50" "$p99" "${non2xx:-0}${socket:+; $socket}" "$rss" | tee -a "$OUT"
}
# The sign-ins beside a measurement start half a second before it and end
# half a second after, so every request of it has 16 sign-ins beside it.
beside_sign_ins() { # label report-command...
  local label=$1 report; shift
  wrk -t2 -c16 -d"$((seconds + 1))s" --latency -s "$WORK/login.lua" "$base/login" >"$WORK/logins-beside.txt" &
  local logins=$!
  sleep 0.5
  report=$("$@")
  wait "$logins"
  # wrk is gone, but actix-web runs each sign-in it started to its end
  # (a handler is not dropped when its client disconnects): up to 16 queued
  # checks, a quarter second of argon2, belong to this row, not the next.
  sleep 1
  row "$label" "$report"
  row "(the sign-ins running beside it)" "$(cat "$WORK/logins-beside.txt")"
  beside_report=$report
}

listing="$base/channels/whatsapp/pools"
{
  echo "Run $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores, SQLite; wrk -t$THREADS -c$CONNECTIONS -d$DURATION on the same machine."
  echo "Paced rows: \`paced_load\` with $PACED_CONNECTIONS connections on one thread, each request timed from when it was due if its connection was still busy."
  echo
  echo "Send API against \`wabapool sandbox\` (its own process, same machine) serving the dataset's $ENTERPRISES WABAs."
  echo "Dataset: $AGGREGATORS aggregators, $ENTERPRISES enterprises, $((ENTERPRISES * NUMBERS)) numbers, $((ENTERPRISES * POOLS)) pools; bench-data took ${fill_ms} ms."
  echo "Cold start of \`wabapool serve\` on it, launch to /readyz 200: ${cold_ms} ms."
  echo
  echo "| target | requests/s | median | p99 | errors | server RSS after |"
  echo "|---|---|---|---|---|---|"
} >"$OUT"
report=$(run_wrk "$THREADS" "$CONNECTIONS" "$base/static/css/app.css")
row "static file /static/css/app.css" "$report"
static_half=$(awk '{printf "%d", $1 / 2}' <<<"$(rps_of "$report")")
# The listing's peak sets the rate of its half-load rows, so it is the
# median of three windows: one window alone came out at 1.6× the others once.
peaks=()
for window in 1 2 3; do
  peaks+=("$(run_wrk "$THREADS" "$CONNECTIONS" -H "Cookie: $cookie" "$listing")")
done
middle=$(for i in "${!peaks[@]}"; do echo "$(rps_of "${peaks[$i]}") $i"; done | sort -g | sed -n 2p | cut -d' ' -f2)
report=${peaks[$middle]}
row "listing, aggregator view (page 1 of 50 over its enterprises; the median of three windows: $(for peak in "${peaks[@]}"; do printf '%.0f ' "$(rps_of "$peak")"; done | sed 's/ $//')/s)" "$report"
listing_half=$(awk '{printf "%d", $1 / 2}' <<<"$(rps_of "$report")")
row "listing, aggregator view, search q=Pool 03" "$(run_wrk "$THREADS" "$CONNECTIONS" -H "Cookie: $cookie" "$listing?q=Pool+03")"
row "listing, aggregator view, page 20" "$(run_wrk "$THREADS" "$CONNECTIONS" -H "Cookie: $cookie" "$listing?page=20")"
row "Add Pool page" "$(run_wrk "$THREADS" "$CONNECTIONS" -H "Cookie: $cookie" "$listing/new")"
row "pool edit POSTs ($CONNECTIONS pools, one connection each)" "$(run_wrk "$CONNECTIONS" "$CONNECTIONS" -s "$WORK/pools.lua" "$base")"
row "send API, templates through pool $send_pool (10 HIGH numbers), Graph sandbox" "$(run_wrk "$THREADS" "$CONNECTIONS" -s "$WORK/send.lua" "$base")"
row "sign-ins (argon2id), 16 concurrent" "$(run_wrk 2 16 -s "$WORK/login.lua" "$base/login")"

# Pairs, alone then beside, so that the two halves share the state of the
# machine; the medians of each half go into the ratio.
alone_p99s=(); beside_p99s=(); ratios=(); slices=()
for pair in $(seq 1 "$PAIRS"); do
  report=$(run_paced "$static_half" "$base/static/css/app.css")
  row "static file, paced at half its peak ($static_half/s), pair $pair" "$report"
  alone_us=$(p99_us_of "$report")
  beside_sign_ins "static file, paced at half its peak ($static_half/s), pair $pair, beside 16 concurrent sign-ins" \
    run_paced "$static_half" "$base/static/css/app.css"
  beside_us=$(p99_us_of "$beside_report")
  alone_p99s+=("$alone_us"); beside_p99s+=("$beside_us")
  ratios+=("$(awk -v a="$alone_us" -v b="$beside_us" 'BEGIN {printf "%.2f", b / a}')")
  # paced_load: "Slower than p99: in K of N 10 ms slices, from ..."
  slices+=("$(awk '/Slower than p99/ {print $5 "/" $7}' <<<"$beside_report")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
listing_p99s=()
for window in $(seq 1 "$WINDOWS"); do
  report=$(run_paced "$listing_half" -H "Cookie: $cookie" "$listing")
  row "listing, aggregator view, paced at half its peak ($listing_half/s), window $window" "$report"
  listing_p99s+=("$(p99_us_of "$report")")
done

half=$((CONNECTIONS / 2))
report=$(run_wrk "$THREADS" "$half" "$base/static/css/app.css")
row "static file, closed loop with $half connections (overload, for comparison)" "$report"
saturated_alone_us=$(p99_us_of "$report")
beside_sign_ins "static file, closed loop with $half connections, beside 16 concurrent sign-ins" \
  run_wrk "$THREADS" "$half" "$base/static/css/app.css"
saturated_beside_us=$(p99_us_of "$beside_report")

peak_kib=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
{
  echo
  alone_median=$(median "${alone_p99s[@]}"); beside_median=$(median "${beside_p99s[@]}")
  awk -v a="$alone_median" -v b="$beside_median" -v n="$PAIRS" -v r="${ratios[*]}" 'BEGIN {
    printf "16 concurrent sign-ins raise the static file'"'"'s p99 at half its peak rate %.2f× (median p99 %.0f µs beside them, %.0f µs alone, over %d pairs; the pairs one by one: %s; target ≤ 2×).\n", b / a, b, a, n, r }'
  echo "Beside sign-ins, each pair's slowest 1% fell in this many of its 10 ms slices: ${slices[*]} (one stall fills a few neighbouring slices; a tail spread over the window, many)."
  awk -v m="$(median "${listing_p99s[@]}")" -v n="$WINDOWS" -v w="${listing_p99s[*]}" 'BEGIN {
    printf "The listing paced at half its peak: median p99 %.2f ms over %d windows (the windows one by one, µs: %s; target ≤ 20 ms).\n", m / 1000, n, w }'
  echo "The sign-ins beside the overloaded file: $(awk '/Requests\/sec/ {r = $2} $1 == "99%" {p = $2} /Socket errors/ {sub(/^ *Socket errors: */, ""); e = $0} END {printf "%s/s, p99 %s, %s", r, p, e ? e : "no socket errors"}' "$WORK/logins-beside.txt")."
  awk -v sa="$saturated_alone_us" -v sb="$saturated_beside_us" -v c="$half" 'BEGIN {
    printf "Overloaded instead (closed loop, %d connections, no idle core left), they raise it %.2f× (%.0f µs to %.0f µs).\n", c, sb / sa, sa, sb }'
  echo "Peak resident memory of the server (VmHWM) after the run: $((peak_kib / 1024)) MiB."
} | tee -a "$OUT"
kill "$pid"; wait "$pid" 2>/dev/null || true
echo; cat "$OUT"
