#!/usr/bin/env bash
# Runs every test: the xunit suite (library, datasets, featurization, training) and the package checks
# (pack, install from a local feed into a fresh project, load the saved model from ML.NET alone).
# Prints a closing line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
# Benchmarks (trait Category=Bench) are measurements, not checks: run them with POKECLASSIFIER_BENCH=1 --filter Category=Bench.
# --blame: a test host that crashes names the test that was running (in its Sequence file and on the console).
dotnet test PokeClassifier.sln -c Release --blame --filter "Category!=Bench" --logger "console;verbosity=normal" 2>&1 | tee "$log"
unit=${PIPESTATUS[0]}
# Each failed test with its message and the top of its stack, repeated at the end so a log's tail names them.
failures=$(mktemp)
grep -E -A14 '^ +Failed [A-Za-z_][A-Za-z0-9_.]+' "$log" > "$failures" || true
# A crashed test host ends its project's run early: it is a failure of its own, with what blame says was running.
aborted=$(grep -c 'Test Run Aborted' "$log" || true)
if [ "${aborted:-0}" -gt 0 ]; then
  grep -E -B2 -A6 'test host (process )?crashed|Test Run Aborted|were running' "$log" >> "$failures" || true
fi
passed=$(grep -Eo 'Passed: +[0-9]+' "$log" | grep -Eo '[0-9]+' | paste -sd+ - | bc)
failed=$(grep -Eo 'Failed: +[0-9]+' "$log" | grep -Eo '[0-9]+' | paste -sd+ - | bc)
passed=${passed:-0}; failed=${failed:-0}
failed=$((failed + ${aborted:-0}))
if [ "$unit" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
pkg=0
if [ -f tests/package/run.sh ]; then
  bash tests/package/run.sh 2>&1 | tee "$log"
  pkg=${PIPESTATUS[0]}
  p=$(grep -Eo '^package: [0-9]+ passed' "$log" | grep -Eo '[0-9]+' | head -1); f=$(grep -Eo '[0-9]+ failed' "$log" | tail -1 | grep -Eo '[0-9]+')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  if [ "$pkg" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
fi
rm -f "$log"
if [ -s "$failures" ]; then
  echo "---- failed tests ----"
  cat "$failures"
  echo "----------------------"
fi
rm -f "$failures"
echo "${passed} passed, ${failed} failed"
[ "$unit" -eq 0 ] && [ "$pkg" -eq 0 ]
