#!/usr/bin/env bash
# GPU check (docs/benchmarks.md): on a Linux machine with an NVIDIA GPU (driver, CUDA 12 and cuDNN 9 libraries), builds a small
# console project in a temporary folder that references both libraries with Microsoft.ML.OnnxRuntime.Gpu.Linux 1.31.0 in place of
# the CPU ONNX Runtime natives and a CUDA libtorch (libtorch-cuda-12.8-linux-x64 2.10.0, TorchSharp 0.107.0's) in place of the CPU
# one. It draws 2,000 images (tests/PokeClassifier.Tests/DrawnAnimations.cs), featurizes them with ResNet18 on the CPU and on cuda:0
# (no cache) and prints images/s side by side and the largest feature difference; then it fine-tunes ResNet18's last two blocks with
# the study's GAP head for one epoch on 320 drawn images, on the CPU and on cuda:0, and prints the training seconds, the epoch's
# training loss and the test macro-F1 side by side. Where the CUDA libtorch cannot be restored (a feed that does not serve it), the
# CPU libtorch is used and the GPU training line says why it did not train.
# Usage: bash bench/gpu-check.sh [images=2000] [device=cuda:0]
#   GPU_CHECK_ALLOW_CPU=1: run without nvidia-smi, the CPU columns only (checks that the project builds and runs).
#   GPU_CHECK_LIBTORCH=NAME:VERSION: another libtorch package (default libtorch-cuda-12.8-linux-x64:2.10.0).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
N="${1:-2000}"
DEVICE="${2:-cuda:0}"
LIBTORCH="${GPU_CHECK_LIBTORCH:-libtorch-cuda-12.8-linux-x64:2.10.0}"
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

# $1: the libtorch package reference (the application chooses its libtorch; the library references the managed TorchSharp only).
write_project() {
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
    <ProjectReference Include="$ROOT/src/PokeClassifier.TorchSharp/PokeClassifier.TorchSharp.csproj" />
    <!-- The GPU build of ONNX Runtime's natives instead of the CPU ones the library brings. -->
    <PackageReference Include="Microsoft.ML.OnnxRuntime" Version="1.31.1" ExcludeAssets="native" />
    <PackageReference Include="Microsoft.ML.OnnxRuntime.Gpu.Linux" Version="1.31.0" />
    $1
    <Compile Include="$ROOT/tests/PokeClassifier.Tests/DrawnAnimations.cs" />
  </ItemGroup>
  <Import Project="$ROOT/src/PokeClassifier/build/PokeClassifier.props" />
  <Import Project="$ROOT/src/PokeClassifier.TorchSharp/build/PokeClassifier.TorchSharp.props" />
</Project>
EOC
}

cat >"$TMP/GpuCheck/Program.cs" <<'EOC'
using System.Diagnostics;
using PokeClassifier;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Features;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.FineTuning;

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
(double PerSecond, FeatureSet Features)? gpuRun = null;
if (device != "none")
{
    try
    {
        gpuRun = await Run(ComputeDevice.Parse(device), 2);
    }
    catch (DeviceUnavailableException e)
    {
        Console.WriteLine($"{device,-7} : not featurized: {e.Message}");
    }
}

if (gpuRun is { } gpu)
{
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

Directory.Delete(drawn.Root, recursive: true);

// Fine-tuning: no cached activations, so each batch runs the whole network (the frozen part under no_grad) on the device.
var tune = PokeClassifier.Tests.DrawnAnimations.Write(Path.Combine(Path.GetTempPath(), $"gpu-check-tune-{Guid.NewGuid():N}"), 16, 5);
async Task<(double Seconds, double Loss, double MacroF1)> FineTune(ComputeDevice d)
{
    using var run = await ImageClassification.FromManifest(tune.Manifest)
        .WithFeaturizer(new FeaturizerOptions { UseCache = false })
        .WithFineTuning(
            CustomHeadOptions.GlobalAveragePoolDense(),
            new TrainingOptions { Epochs = 1, EarlyStopping = null, Device = d, Seed = 7 },
            new FineTuneOptions { UnfreezeLastBlocks = 2, InputSize = 128, CacheFrozenActivations = false })
        .RunAsync();
    return (run.Timings.TrainingSeconds, run.Classifier.Training!.History[0].TrainLoss, run.Metrics.MacroF1);
}

Console.WriteLine($"fine-tuning: {tune.Items.Count} drawn images (16 classes), ResNet18's last 2 blocks + GAP head, 128 px, 1 epoch");
var cpuTune = await FineTune(ComputeDevice.Cpu);
Console.WriteLine($"cpu     : {cpuTune.Seconds,7:F1} s   train loss {cpuTune.Loss:F4}   test macro-F1 {cpuTune.MacroF1:F4}");
if (device != "none")
{
    try
    {
        var gpuTune = await FineTune(ComputeDevice.Parse(device));
        Console.WriteLine($"{device,-7} : {gpuTune.Seconds,7:F1} s   train loss {gpuTune.Loss:F4}   test macro-F1 {gpuTune.MacroF1:F4}   ({cpuTune.Seconds / gpuTune.Seconds:F1}x the CPU)");
    }
    catch (DeviceUnavailableException e)
    {
        Console.WriteLine($"{device,-7} : not trained: {e.Message}");
    }
}

Directory.Delete(tune.Root, recursive: true);
EOC
echo '<Project />' >"$TMP/Directory.Build.props"
echo '<Project />' >"$TMP/Directory.Packages.props"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
torch_cpu='<PackageReference Include="TorchSharp-cpu" Version="0.107.0" />'
if [[ "$DEVICE" == none ]]; then
  write_project "$torch_cpu"
else
  write_project "<PackageReference Include=\"${LIBTORCH%%:*}\" Version=\"${LIBTORCH##*:}\" />"
  if ! dotnet restore "$TMP/GpuCheck" -nologo -v q >"$TMP/restore.log" 2>&1; then
    why="$(grep -m1 -o 'error NU[0-9]*:[^[]*' "$TMP/restore.log" || echo 'see dotnet restore')"
    echo "gpu-check: ${LIBTORCH%%:*} ${LIBTORCH##*:} could not be restored ($why); using the CPU libtorch, so the GPU training line will say why it did not train"
    write_project "$torch_cpu"
  fi
fi
dotnet build "$TMP/GpuCheck" -c Release -nologo -v q 2>&1 | tail -3
dotnet "$TMP/GpuCheck/bin/Release/net10.0/GpuCheck.dll" "$N" "$DEVICE"
