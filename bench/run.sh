#!/usr/bin/env bash
# bench/run.sh: side-by-side benchmarks of pricing-engine against net/http,
# fasthttp and the raw gnet limit (see docs/BENCHMARKS.md).
#
#   bench/run.sh                 full run (~25 min): updates docs/BENCHMARKS.md,
#                                docs/bench.png and bench/results/latest.json, then
#                                the seed-profile rate ladder (its own section and
#                                bench/results/seed-ladder.json)
#   BENCH_SMOKE=1 bench/run.sh   a few seconds of every harness path, into a
#                                temporary directory (part of `make test`)
#
# Extra arguments go to bench/cmd/benchrun (e.g. --rounds 5 --duration 10s,
# --scenarios mem-c100,pipe16, --servers pricing-engine,gnetraw, --pprof DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$GO" build -o "$tmp/benchrun" ./bench/cmd/benchrun

if [[ -n "${BENCH_SMOKE:-}" ]]; then
  "$tmp/benchrun" --smoke --md "$tmp/bench.md" --json "$tmp/bench.json" --chart "$tmp/bench.png" "$@" >/dev/null
  test -s "$tmp/bench.md" && test -s "$tmp/bench.json" && test -s "$tmp/bench.png"
  "$tmp/benchrun" --seed-ladder --smoke >/dev/null
  echo "bench-smoke: every server answered in every scenario and the seed ladder's first step; table, JSON and chart produced"
else
  mkdir -p bench/results
  "$tmp/benchrun" --doc docs/BENCHMARKS.md --chart docs/bench.png --json bench/results/latest.json "$@"
  # The seed-profile rate ladder (~10 min): its own section of docs/BENCHMARKS.md.
  # Not when only re-rendering saved results (--from-json): that runs nothing.
  case " $* " in
  *" --from-json "* | *" --from-json="*) ;;
  *) "$tmp/benchrun" --seed-ladder --doc docs/BENCHMARKS.md --json bench/results/seed-ladder.json ;;
  esac
fi
