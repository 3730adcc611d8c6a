#!/usr/bin/env bash
# The fine-tuning benchmark of docs/fine-tuning.md: one process per configuration (its own peak memory), results appended to
# bench/FineTune/results.jsonl, then the table (mean of the four held-out-GIF splits, and the held-out back view) printed.
# Usage: bash bench/FineTune/run.sh [epochs]     (needs ../shared/datasets/pokeapi-gen1 and pokeapi-gen1-splits)
set -euo pipefail
cd "$(dirname "$0")/../.."
epochs=${1:-5}
out=bench/FineTune/results.jsonl
rm -f "$out"
dotnet build bench/FineTune -c Release -v q --nologo
exe=bench/FineTune/bin/Release/net10.0/FineTune.dll
for config in warmup mlnet gap dense256 finetune; do
  /usr/bin/time -f "$config: %e s wall, %M KB max RSS" dotnet "$exe" "$config" --epochs "$epochs" --out "$out"
done
python3 bench/FineTune/table.py "$out"
