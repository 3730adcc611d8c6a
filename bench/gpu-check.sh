#!/usr/bin/env bash
# GPU check (docs/benchmarks.md): on a Linux machine with an NVIDIA GPU (driver, CUDA 12 and cuDNN 9 libraries), builds a small
# console project in a temporary folder that references the library with Microsoft.ML.OnnxRuntime.Gpu.Linux 1.31.0 in place of the
# CPU ONNX Runtime natives, draws 2,000 images (tests/PokeClassifier.Tests/DrawnAnimations.cs), featurizes them with ResNet18 on
# the CPU and on cuda:0 (no cache), and prints images/s side by side and the largest feature difference.
# TorchSharp training on CUDA needs a CUDA libtorch package (libtorch-cuda-12.8-linux-x64), which the package feed here does not
# serve; the check says so instead of training.
# Usage: bash bench/gpu-check.sh [images=2000] [device=cuda:0]     (GPU_CHECK_ALLOW_CPU=1: run without nvidia-smi, CPU column only)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N="${1:-2000}"
DEVICE="${2:-cuda:0}"
if ! command -v nvidia-smi >/dev/null 2>&1; then
  if [[ "${GPU_CHECK_ALLOW_CPU:-0}" != 1 ]]; then
    echo "gpu-check: nvidia-smi not found: this machine has no NVIDIA driver (set GPU_CHECK_ALLOW_CPU=1 to try the CPU half only)" >&2
    exit 2
  fi
  DEVICE=none
else
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
fi
TMP="$(mktemp -d "${TMPDIR:-/tmp}/pokeclassifier-gpu.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/GpuCheck"
cat >"$TMP/GpuCheck/GpuCheck.csproj" <<EOC
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
    <TreatWarningsAsErrors>false</TreatWarningsAsErrors>
  </PropertyGroup>
  <ItemGroup>
    <ProjectReference Include="$ROOT/src/PokeClassifier/PokeClassifier.csproj" />
    <!-- The GPU build of ONNX Runtime's natives instead of the CPU ones the library brings. -->
    <PackageReference Include="Microsoft.ML.OnnxRuntime" Version="1.31.1" ExcludeAssets="native" />
    <PackageReference Include="Microsoft.ML.OnnxRuntime.Gpu.Linux" Version="1.31.0" />
    <Compile Include="$ROOT/tests/PokeClassifier.Tests/DrawnAnimations.cs" />
  </ItemGroup>
  <Import Project="$ROOT/src/PokeClassifier/build/PokeClassifier.props" />
</Project>
EOC
cat >"$TMP/GpuCheck/Program.cs" <<'EOC'
using System.Diagnostics;
using PokeClassifier;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Features;

var n = int.Parse(args[0]);
var device = args[1];
var frames = (int)Math.Ceiling(n / (32.0 * 4));
var drawn = PokeClassifier.Tests.DrawnAnimations.Write(Path.Combine(Path.GetTempPath(), $"gpu-check-{Guid.NewGuid():N}"), 32, frames);
var items = drawn.Items.Take(n).ToArray();
Console.WriteLine($"{items.Length} drawn images, 32 classes, ResNet18 (ML.NET's ONNX), no feature cache");

async Task<(double PerSecond, FeatureSet Features)> Run(ComputeDevice d, int parallelism)
{
    using var featurizer = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { Device = d, UseCache = false, Parallelism = parallelism });
    await featurizer.FeaturizeAsync(items.Take(16).ToArray()); // warm-up (CUDA: kernels, cuDNN autotuning)
    var watch = Stopwatch.StartNew();
    var features = await featurizer.FeaturizeAsync(items);
    return (items.Length / watch.Elapsed.TotalSeconds, features);
}

var cpu = await Run(ComputeDevice.Cpu, Environment.ProcessorCount);
Console.WriteLine($"cpu     ({Environment.ProcessorCount} sessions): {cpu.PerSecond,8:F1} images/s");
if (device != "none")
{
    var gpu = await Run(ComputeDevice.Parse(device), 2);
    var worst = 0.0;
    for (var i = 0; i < items.Length; i++)
    {
        var a = cpu.Features[i].Span;
        var b = gpu.Features[i].Span;
        for (var k = 0; k < a.Length; k++)
        {
            worst = Math.Max(worst, Math.Abs(a[k] - b[k]));
        }
    }

    var scale = Enumerable.Range(0, items.Length).Max(i => cpu.Features[i].ToArray().Max(Math.Abs));
    Console.WriteLine($"{device,-7} (2 sessions): {gpu.PerSecond,8:F1} images/s   ({gpu.PerSecond / cpu.PerSecond:F1}x the CPU)");
    Console.WriteLine($"largest feature difference cpu vs {device}: {worst:E2} (largest feature {scale:F2}; relative {worst / scale:E2})");
}

try
{
    TorchSharp.torch.InitializeDeviceType(TorchSharp.DeviceType.CUDA);
    Console.WriteLine($"TorchSharp CUDA: available, {TorchSharp.torch.cuda.device_count()} device(s)");
}
catch (Exception e)
{
    Console.WriteLine($"TorchSharp CUDA: not available here ({e.GetType().Name}); fine-tuning on the GPU needs the libtorch-cuda-12.8-linux-x64 package, not served by this feed, so no training epoch is timed.");
}

Directory.Delete(drawn.Root, recursive: true);
EOC
echo '<Project />' >"$TMP/Directory.Build.props"
echo '<Project />' >"$TMP/Directory.Packages.props"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build "$TMP/GpuCheck" -c Release -nologo -v q 2>&1 | tail -3
dotnet "$TMP/GpuCheck/bin/Release/net10.0/GpuCheck.dll" "$N" "$DEVICE"
