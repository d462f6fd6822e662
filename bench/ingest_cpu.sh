#!/usr/bin/env bash
# bench/ingest_cpu.sh: CPU time per ingested sample, by thread role, for line protocol
# over HTTP (the write path of bench/ingest_vs_influxdb.sh without the peer).
#
# Starts a fresh strata from BUILD on a free loopback port, posts FILE with bench_ingest
# (batches of 5,000 lines, CONNS keep-alive connections), waits until the consumers have
# applied everything, and reads each thread's user+system CPU time from /proc. Prints
# ns of CPU per sample for the HTTP threads (parse, batch, records, log append), the
# consumers (decode, merge, store append) and the rest, and the wall rates. CPU per
# sample barely moves with other load on the machine, where samples/s does: compare
# builds with this, then confirm with the side-by-side benchmark on a quiet machine.
#
#   bench/ingest_cpu.sh [FILE] [CONNS=4] [RUNS=3]
# FILE defaults to devops data generated like ingest_vs_influxdb.sh (1,000 hosts, 1 h).
# STRATA_BUILD (default build/release) holds cmd/strata and bench/bench_ingest.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${STRATA_BUILD:-build/release}
conns=${2:-4}
runs=${3:-3}
shared=${STRATA_SHARED_DATA:-../shared/data}
bin=$build/cmd/strata
gen=$build/bench/bench_ingest
[ -x "$bin" ] && [ -x "$gen" ] || { echo "run 'make bench' first" >&2; exit 1; }
work=$(mktemp -d /tmp/strata-cpu.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT
data=${1:-}
if [ -z "$data" ]; then
	data="$work/devops.lp"
	python3 "$shared/scripts/gen_devops.py" --hosts 1000 --duration 1h --seed 7 >"$data"
fi
tck=$(getconf CLK_TCK)

# cpu_by_role PID: "process consumers other" CPU ticks: the whole process (exited
# threads included), its consumer threads, and its live threads that are neither
# consumers nor HTTP connection threads (those exit with their connections, so the HTTP
# share is what is left)
cpu_by_role() {
	local c=0 o=0 name t
	for d in /proc/"$1"/task/*; do
		name=$(cat "$d/comm" 2>/dev/null) || continue
		# after the parenthesized comm: utime is the 12th field, stime the 13th
		t=$(sed 's/.*) //' "$d/stat" | awk '{print $12 + $13}')
		case "$name" in
		MHD-*) ;;
		ingest-p*) c=$((c + t)) ;;
		*) o=$((o + t)) ;;
		esac
	done
	echo "$(sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}') $c $o"
}

for r in $(seq 1 "$runs"); do
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	rm -rf "$work/d"
	"$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/d" --log-level warn >"$work/log" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null && break; sleep 0.1; done
	read -r p0 c0 o0 < <(cpu_by_role "$pid")
	out=$("$gen" "http://127.0.0.1:$port/write?precision=ns" "$data" --conns "$conns")
	for _ in $(seq 1200); do # until the consumers applied everything (at most 60 s)
		lag=$(curl -s "http://127.0.0.1:$port/metrics" |
			awk '/^strata_ingest_log_lag_bytes/ {s += $2} END {print s + 0}')
		[ "$lag" = 0 ] && break
		sleep 0.05
	done
	read -r p1 c1 o1 < <(cpu_by_role "$pid")
	n=$(sed -n 's/.*samples=\([0-9]*\).*/\1/p' <<<"$out")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
	awk -v n="$n" -v tck="$tck" -v tot=$((p1 - p0)) -v c=$((c1 - c0)) -v o=$((o1 - o0)) \
		-v out="$out" 'BEGIN {
		ns = 1e9 / tck / n
		all = tot * ns; cons = c * ns; other = o * ns
		printf "cpu ns/sample: total %.0f = http %.0f + consumers %.0f + other %.0f | %s\n",
			all, all - cons - other, cons, other, out }'
done
