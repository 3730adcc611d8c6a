#!/usr/bin/env bash
# Renders an HTML report with headless Chromium and writes a PNG screenshot, so a person can look at what the report shows.
# Not part of CI (it needs Chromium); run it by hand after changing the report.
#
# Usage: tests/report-screenshot.sh [report.html] [out.png] [width,height]
#   Without a report, one is generated first: 'pokeclassifier compare' on 24 classes of ../shared/datasets/pokeapi-gen1
#   (three ML.NET heads on ResNet18 features, group-aware split).
set -euo pipefail
cd "$(dirname "$0")/.."
html=${1:-}
out=${2:-report-screenshot.png}
size=${3:-1400,3000}

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
  else
    echo "chromium is missing: install it (apt-get install chromium), then rerun" >&2; exit 1
  fi
fi

if [ -z "$html" ]; then
  data=../shared/datasets/pokeapi-gen1
  [ -f "$data/manifest.csv" ] || { echo "no report given and $data/manifest.csv not found" >&2; exit 1; }
  classes=$(awk -F'\t' 'NR>1 && $1<=24 {print $2}' "$data/classes.tsv" | paste -sd, -)
  dir=$(mktemp -d)
  dotnet build src/PokeClassifier.Cli -c Release -v q -nologo >/dev/null
  dotnet src/PokeClassifier.Cli/bin/Release/net10.0/PokeClassifier.Cli.dll compare "$data/manifest.csv" \
    --classes "$classes" --heads lbfgs,sdca,lightgbm --report "$dir" >/dev/null
  html="$dir/report.html"
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync \
  --no-first-run --user-data-dir="$profile" --hide-scrollbars --screenshot="$(realpath -m "$out")" --window-size="$size" \
  "file://$(realpath "$html")" 2>/dev/null
echo "screenshot: $(realpath "$out") (of $html)"
