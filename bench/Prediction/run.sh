#!/usr/bin/env bash
# Prediction benchmark: `pokeclassifier predict` over drawn files vs the featurization pipeline's end-to-end rate, and peak RSS at
# two file counts. Needs no dataset (it draws its images). Options: --files N (2000), --small N (500). About 2-3 minutes on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dotnet build "$here/Prediction.csproj" -c Release -nologo -v quiet
exec dotnet "$here/bin/Release/net10.0/Prediction.dll" "$@"
