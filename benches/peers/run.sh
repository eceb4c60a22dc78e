#!/usr/bin/env bash
# Benchmarks our central system (`ocpp csms`) against two peers on the same machine, driving
# each with `ocpp load`:
#   python  PyPI ocpp==2.1.0 on websockets (python_csms.py)
#   node    npm ocpp-rpc@2.2.1 (node_csms.js)
#   ours    ocpp csms --accept-all (release build), one thread serving the connections (the
#           default; the peers run on one thread each)
#   ours2   the same with --threads 2 (one thread per core, connections spread over them)
# and prints a markdown table. See BENCHMARKS.md ("Central systems side by side").
#
# Usage: benches/peers/run.sh [--quick] [--only "ours ours2 python node"]
#   --quick  small counts (a smoke test of the script, not figures to publish)
#   --only   the servers to measure, in this order
# Needs python3 (with venv), node and npm, and the Rust toolchain; installs the pinned peer
# libraries into benches/peers/.work (the only network access: PyPI and npm).
# Every server is a fresh process for every measurement. Run it on an otherwise idle
# machine: the load tool and the server share its cores.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORK="$HERE/.work"
RESULTS="$WORK/results"
PORT=9710

QUICK=0
SERVERS="ours ours2 python node"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --only) shift; SERVERS="$1" ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$QUICK" = 1 ]; then
  RT_SECONDS=2; CPU_ROUND_TRIPS=5000; CPU_ROUND_TRIPS_SLOW=5000; IDLE_SMALL=100; IDLE_LARGE=500
  STORM_SMALL=200; STORM_LARGE=500; IDLE_SECONDS=1
else
  # /proc counts CPU time in 10 ms ticks: 200,000 round trips of ~5 us are 100 ticks, so the
  # figure is good to 0.05 us. Python spends ~200 us per round trip: 50,000 suffice there.
  RT_SECONDS=10; CPU_ROUND_TRIPS=200000; CPU_ROUND_TRIPS_SLOW=50000; IDLE_SMALL=1000; IDLE_LARGE=10000
  STORM_SMALL=5000; STORM_LARGE=10000; IDLE_SECONDS=5
fi

mkdir -p "$WORK" "$RESULTS"
rm -f "$RESULTS"/*.json

# --- the peers' libraries, pinned -------------------------------------------------------
if [ ! -x "$WORK/venv/bin/python" ]; then
  python3 -m venv "$WORK/venv"
fi
"$WORK/venv/bin/pip" install --quiet --disable-pip-version-check \
  ocpp==2.1.0 websockets==17.4 jsonschema==4.26.0
if [ ! -d "$WORK/node/node_modules/ocpp-rpc" ]; then
  npm install --prefix "$WORK/node" --no-audit --no-fund --silent ocpp-rpc@2.2.1
fi

# --- ours, and the load tool ---------------------------------------------------------
(cd "$ROOT" && cargo build --release --quiet -p ocpp-cli)
OCPP="$ROOT/target/release/ocpp"

SERVER_PID=""
SERVER_LOG="$WORK/server.log"

# start_server NAME: starts a fresh server on $PORT and sets SERVER_PID.
start_server() {
  local name="$1"
  # The previous server's log says "listening" too: gone before the new one starts.
  rm -f "$WORK/csms.redb" "$SERVER_LOG"
  case "$name" in
    ours|ours2)
      threads=()
      if [ "$name" = ours2 ]; then threads=(--threads 2); fi
      "$OCPP" csms --listen "127.0.0.1:$PORT" --db "$WORK/csms.redb" --accept-all \
        --log off "${threads[@]}" >"$SERVER_LOG" 2>&1 & ;;
    python) "$WORK/venv/bin/python" "$HERE/python_csms.py" "$PORT" >"$SERVER_LOG" 2>&1 & ;;
    node) NODE_PATH="$WORK/node/node_modules" node "$HERE/node_csms.js" "$PORT" \
            >"$SERVER_LOG" 2>&1 & ;;
    *) echo "unknown server $name" >&2; exit 2 ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    if grep -qs "^listening on" "$SERVER_LOG"; then
      return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "$name did not start:" >&2; cat "$SERVER_LOG" >&2; exit 1
    fi
    sleep 0.1
  done
  echo "$name did not start listening within 30 s" >&2
  exit 1
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  # Let the closed connections leave TIME_WAIT's way before the next run binds the port.
  sleep 1
}
trap 'if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi' EXIT

# measure NAME TEST LOAD-ARGS...: one fresh server, one `ocpp load` run, its JSON report
# kept as results/NAME-TEST.json (a run with errors is kept too: the table shows them).
measure() {
  local name="$1" test="$2"
  shift 2
  echo "== $name: $test" >&2
  start_server "$name"
  "$OCPP" load --url "ws://127.0.0.1:$PORT" --server-pid "$SERVER_PID" --json "$@" \
    >"$RESULTS/$name-$test.json" || true
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "$name died during $test:" >&2; tail -5 "$SERVER_LOG" >&2
  fi
  stop_server
}

for name in $SERVERS; do
  measure "$name" rt1 --stations 1 --duration "$RT_SECONDS"
  rounds="$CPU_ROUND_TRIPS"
  if [ "$name" = python ]; then rounds="$CPU_ROUND_TRIPS_SLOW"; fi
  measure "$name" cpu --stations 10 --round-trips "$rounds" --duration 600
  measure "$name" idle-small --stations "$IDLE_SMALL" --rate 2000 --mode idle \
    --duration "$IDLE_SECONDS" --timeout 60
  measure "$name" idle-large --stations "$IDLE_LARGE" --rate 2000 --mode idle \
    --duration "$IDLE_SECONDS" --timeout 60
  measure "$name" storm-small --stations "$STORM_SMALL" --mode boot-storm --timeout 60
  measure "$name" storm-large --stations "$STORM_LARGE" --mode boot-storm --timeout 60
done

python3 "$HERE/table.py" "$RESULTS" $SERVERS
