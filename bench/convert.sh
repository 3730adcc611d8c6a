#!/usr/bin/env bash
# First use of DenseNet201 and VGG16 (torchvision layout, random weights written as .pth): write, verify, convert to ONNX, then
# featurization through the converted ONNX graph against TorchSharp's frozen forward on the same weights, side by side in one run.
# Usage: bench/convert.sh [IMAGES (24)] [SIZE (224)] [DATASET (/work/shared/datasets/pokeapi-gen1; generated sprites when absent)]
# Keep it short on a shared machine: about 2-3 minutes with the defaults on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$here/PokeClassifier.Benchmarks/PokeClassifier.Benchmarks.csproj"
dotnet build "$project" -c Release -nologo -v quiet
exec dotnet "$here/PokeClassifier.Benchmarks/bin/Release/net10.0/PokeClassifier.Benchmarks.dll" convert "$@"
