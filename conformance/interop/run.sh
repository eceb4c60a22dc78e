#!/usr/bin/env bash
# Live interop of our OCPP 1.6 stack with third-party peers on loopback (conformance/interop/README.md):
#   - the `ocpp` PyPI package (ocpp.v16) and the `ocpp-rpc` npm package (strictMode) as central
#     systems driving our `ocpp cp` through the full scenario;
#   - the same two packages as charge points against our `ocpp csms`.
# Installs the pinned peers (cached: again only when requirements.txt / package-lock.json
# change), builds `ocpp`, runs every scenario and exits non-zero naming each failed check and
# what the peer saw. Each run's frames and our side's logs are left in conformance/interop/work/.
#
# Usage: conformance/interop/run.sh [SCENARIO...]   (default: all; see `scenarios` below)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$here"

say() { printf '==> %s\n' "$*"; }
fail() { printf 'interop: %s\n' "$*" >&2; exit 2; }

command -v python3 >/dev/null || fail "python3 is needed (3.9 or later) for the ocpp PyPI package"
command -v node >/dev/null || fail "node is needed (18 or later) for the ocpp-rpc npm package"
command -v npm >/dev/null || fail "npm is needed to install ocpp-rpc"

stamp() { sha256sum "$1" | cut -d' ' -f1; }

if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.installed 2>/dev/null)" != "$(stamp requirements.txt)" ]; then
  say "installing the ocpp PyPI package (requirements.txt, hashes checked) into .venv"
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.txt
  stamp requirements.txt > .venv/.installed
fi
if [ ! -d node_modules/ocpp-rpc ] || [ "$(cat node_modules/.installed 2>/dev/null)" != "$(stamp package-lock.json)" ]; then
  say "installing the ocpp-rpc npm package (package-lock.json) into node_modules"
  npm ci --no-audit --no-fund --loglevel=error
  stamp package-lock.json > node_modules/.installed
fi

say "building ocpp"
(cd "$root" && cargo build --quiet --locked -p ocpp-cli)
export OCPP_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/ocpp"
[ -x "$OCPP_BIN" ] || fail "no binary at $OCPP_BIN"

export INTEROP_WORK="$here/work"
rm -rf "$INTEROP_WORK"
mkdir -p "$INTEROP_WORK"
# Our side records its traces of every run (ocpp cp --trace, ocpp csms --trace); they must
# replay. INTEROP_RECORD=1 also copies them to conformance/traces/ for `cargo test`.
export INTEROP_TRACES="$INTEROP_WORK/traces"
mkdir -p "$INTEROP_TRACES"

# name: command
scenarios=(
  "py-central-system:.venv/bin/python py/central_system.py"
  "js-central-system:node js/central_system.js"
  "py-charge-point:.venv/bin/python py/charge_point.py"
  "js-charge-point:node js/charge_point.js"
)
wanted=("$@")
failed=()
for entry in "${scenarios[@]}"; do
  name="${entry%%:*}"
  command="${entry#*:}"
  if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " == *" $name "* ]]; then
    continue
  fi
  say "$name"
  # Each scenario bounds its own waits; this bounds a hung peer.
  if ! INTEROP_SCENARIO="$name" timeout 300 $command >"$INTEROP_WORK/$name.out" 2>"$INTEROP_WORK/$name.err"; then
    failed+=("$name")
  fi
  grep -v '  ok  \| ok   ' "$INTEROP_WORK/$name.out" || true
done

if [ ${#failed[@]} -gt 0 ]; then
  for name in "${failed[@]}"; do
    printf '\ninterop: %s FAILED; what the peer saw:\n' "$name" >&2
    grep -E 'FAIL|failed:' "$INTEROP_WORK/$name.out" >&2 || tail -20 "$INTEROP_WORK/$name.err" >&2
    printf '  (frames and logs: %s/%s*, %s.err)\n' "$INTEROP_WORK" "${name%%-*}" "$name" >&2
  done
  exit 1
fi
say "our traces of the runs replay (ocpp replay)"
mapfile -t traces < <(find "$INTEROP_TRACES" -name '*.jsonl' -type f | sort)
[ ${#traces[@]} -gt 0 ] || fail "our side recorded no traces in $INTEROP_TRACES"
"$OCPP_BIN" replay "${traces[@]}" >"$INTEROP_WORK/replay.out" 2>&1 || {
  cat "$INTEROP_WORK/replay.out" >&2
  fail "a trace of our side did not replay (traces in $INTEROP_TRACES)"
}
if [ "${INTEROP_RECORD:-0}" = 1 ]; then
  say "copying the traces to conformance/traces/interop-*.jsonl"
  rm -f "$root"/conformance/traces/interop-*.jsonl
  (cd "$INTEROP_TRACES" && find . -name '*.jsonl' -type f | sort) | while read -r trace; do
    flat="$(printf '%s' "${trace#./}" | tr '/' '-')"
    cp "$INTEROP_TRACES/$trace" "$root/conformance/traces/interop-${flat%.jsonl}.jsonl"
  done
fi
say "interop: every scenario passed (frames in $INTEROP_WORK)"
