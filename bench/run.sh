#!/usr/bin/env bash
# Builds the featurization benchmark in Release and runs it; the Markdown table goes to stdout, progress to stderr.
# Options are passed through: --images N (300), --dataset DIR, --repeats R (2), --memory-images A,B (100,400), --skip-mlnet, --skip-memory.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$here/PokeClassifier.Benchmarks/PokeClassifier.Benchmarks.csproj"
dotnet build "$project" -c Release -nologo -v quiet
exec dotnet "$here/PokeClassifier.Benchmarks/bin/Release/net10.0/PokeClassifier.Benchmarks.dll" "$@"
