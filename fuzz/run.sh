#!/usr/bin/env bash
# Runs every fuzz target for SECONDS seconds each, one after the other on one core, over its
# committed corpus (new inputs are added to fuzz/corpus/<target>/; regressions are read only).
# Prints the executions per target; exits non-zero on the first crash, whose input libFuzzer
# leaves in fuzz/artifacts/<target>/. Minimises nothing: run `cargo +nightly fuzz cmin` for that.
#
#   fuzz/run.sh SECONDS [TARGET...]     (default: every target of `cargo fuzz list`)
set -euo pipefail
cd "$(dirname "$0")"

seconds=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

cargo +nightly fuzz build
summary=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  dirs=("corpus/$target")
  [ -d "regressions/$target" ] && dirs+=("regressions/$target")
  log=$(mktemp)
  status=0
  cargo +nightly fuzz run "$target" "${dirs[@]}" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$log"
    rm -f "$log"
    echo "fuzz/run.sh: $target crashed after ${runs:-?} executions (see fuzz/artifacts/$target/)" >&2
    exit 1
  fi
  rm -f "$log"
  summary+=("$(printf '%-16s %6s s %12s executions, no crash' "$target" "$seconds" "${runs:-?}")")
  echo "${summary[-1]}"
done
printf '\nfuzz/run.sh summary\n'
printf '%s\n' "${summary[@]}"
