"""Reads oha's per-request CSV (`--output-format csv`, run with
`--latency-correction`, so each request is timed from when it was due) and
prints wrk's report layout, which benches/lib.sh reads for wrk and oha alike.

    oha_report.py RATE DURATION_SECONDS < oha.csv

Besides wrk's lines it prints where the requests slower than the p99 fell:
"Slower than p99: in K of N 10 ms slices", N being the 10 ms slices of the
run by due time. A few slices means one stall; many means a general slowdown.
"""

import math
import sys


def wrk_latency(seconds):
    micros = seconds * 1e6
    if micros < 1000:
        return f"{micros:.2f}us"
    if micros < 1e6:
        return f"{micros / 1000:.2f}ms"
    return f"{micros / 1e6:.2f}s"


def percentile(ordered, percent):
    rank = math.ceil(percent / 100 * len(ordered))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def main():
    rate, duration = float(sys.argv[1]), float(sys.argv[2])
    rows = [line.split(",") for line in sys.stdin.read().splitlines()[1:] if line.strip()]
    due = [float(r[0]) for r in rows]
    took = [float(r[4]) for r in rows]
    statuses = [r[6] for r in rows]
    due_count = int(rate * duration)
    print(f"Paced {rate:g} requests/s for {duration:g}s (oha, timed from when each request was due)")
    print("  Latency Distribution")
    if not took:
        print(f"  0 requests in {duration:.2f}s")
        print(f"  Socket errors: connect {due_count}, read 0, write 0, timeout 0")
        print("Requests/sec: 0")
        return
    ordered = sorted(took)
    for percent in (50, 75, 90, 99, 99.9):
        print(f"    {percent:g}%  {wrk_latency(percentile(ordered, percent))}")
    p99 = percentile(ordered, 99)
    slow = sorted({int(d / 0.01) for d, t in zip(due, took) if t > p99})
    if slow:
        slices = int(max(due) / 0.01) + 1
        print(f"  Slower than p99: in {len(slow)} of {slices} 10 ms slices, from {slow[0] / 100:.2f}s to {slow[-1] / 100 + 0.01:.2f}s")
    print(f"  {len(took)} requests in {duration:.2f}s")
    # Requests oha gave up on (connection errors, the deadline) leave no row.
    missing = max(0, due_count - len(took) - int(rate * 0.01))
    if missing:
        print(f"  Socket errors: connect 0, read 0, write 0, timeout {missing}")
    failed = sum(1 for s in statuses if not s.startswith(("2", "3")))
    if failed:
        print(f"  Non-2xx or 3xx responses: {failed}")
    print(f"Requests/sec: {len(took) / duration:.2f}")


main()
