#!/usr/bin/env bash
# The accuracy benchmark of docs/recipes.md: every recipe on kaggle-visible (its split-80-20.csv) and on the sprite set's held-out
# back view, each in its own process (its own peak memory), then one table side by side.
# Needs ../shared/datasets/kaggle-visible and ../shared/datasets/pokeapi-gen1(+ -splits) beside the repository.
# Usage: bash bench/accuracy/run.sh [budgets in minutes, default "10 20 60"] [datasets, default "kaggle sprites-back"]
# Run it on a quiet machine: the budgets measure this machine's speed at their start and plan from it.
set -euo pipefail
cd "$(dirname "$0")/../.."
budgets=${1:-10 20 60}
datasets=${2:-kaggle sprites-back}
out=bench/accuracy/results.jsonl
rm -f "$out"
dotnet build bench/accuracy -c Release -v q --nologo >/dev/null
exe=bench/accuracy/bin/Release/net10.0/Accuracy.dll
lscpu | grep 'Model name' | sed 's/^/# /'
for dataset in $datasets; do
  for recipe in frozen frozen-best frozen-multi study-gap study-dense256 $(for b in $budgets; do echo "budget:$b"; done); do
    /usr/bin/time -f "{\"dataset\":\"$dataset\",\"recipe\":\"$recipe\",\"peakRssKb\":%M}" -a -o "$out.mem" dotnet "$exe" "$dataset" "$recipe" --out "$out"
  done
done
python3 bench/accuracy/table.py "$out" "$out.mem"
