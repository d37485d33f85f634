#!/usr/bin/env bash
# Ingest benchmark: release emulator pinned to CPU 0, wrk pinned to CPU 1, HTTP/1.1 keep-alive.
# Prints wrk's report, then the emulator's stats (events accepted must equal the requests wrk counted).
# Usage: emulator/bench/run.sh [DURATION] [CONNECTIONS]   (needs wrk; builds the release binary)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/emu}"
cargo build --release -q -p xmcdp-emulator --manifest-path "$root/Cargo.toml"
port="${PORT:-18999}"
# On a shared machine other sessions' builds compete for the two cores, and with scheduler autogroups `nice` does
# not help across sessions. As root, run both sides SCHED_FIFO for the few seconds of the run (the kernel's RT
# throttling still leaves 5% of each core to everything else); set BENCH_RT=0 to measure without it.
nice_cmd=()
if [ "$(id -u)" = 0 ] && [ "${BENCH_RT:-1}" = 1 ] && command -v chrt > /dev/null; then nice_cmd=(chrt -f 10); fi
"${nice_cmd[@]}" taskset -c 0 "$CARGO_TARGET_DIR/release/xmcdp-emulator" --listen "127.0.0.1:$port" > /tmp/xmcdp-emu-bench.out &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening /tmp/xmcdp-emu-bench.out && break; sleep 0.1; done
BID=$(curl -s "http://127.0.0.1:$port/v1.2/browser/create.json?client_key=ck_test" | sed -E 's/.*"ref":"([^"]+)".*/\1/')
export BID
BID="$BID" "${nice_cmd[@]}" taskset -c 1 wrk -t1 -c"${2:-32}" -d"${1:-10s}" -s "$here/events.lua" "http://127.0.0.1:$port/v1.2/events"
curl -s "http://127.0.0.1:$port/__emulator/stats" | head -c 400; echo
