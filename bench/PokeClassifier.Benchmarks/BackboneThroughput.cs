using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Data;
using PokeClassifier.Features;
using TorchSharp;
using TorchSharp.PyBridge;

namespace PokeClassifier.Benchmarks;

/// <summary>
/// Frozen featurization throughput per backbone and engine, at 224 and at a smaller size, on the same images in one run.
/// Weights are random (throughput does not depend on their values): each architecture is built in TorchSharp, saved as a
/// safetensors checkpoint, and written as an ONNX graph with the library's exporter, so both engines run the same network.
/// Every (backbone, engine, size) runs in a fresh child process, which reports its images/s and its peak RSS (VmHWM).
/// </summary>
internal static class BackboneThroughput
{
    // torchvision's GFLOPs per image at 224 (multiply-adds counted once, as torchvision reports them).
    private static readonly Dictionary<string, double> GflopsAt224 = new(StringComparer.Ordinal)
    {
        ["resnet18"] = 1.81,
        ["densenet201"] = 4.29,
        ["vgg16"] = 15.47,
    };

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length > 0 && args[0] == "--child")
        {
            return await ChildAsync(args[1], int.Parse(args[2], CultureInfo.InvariantCulture), args[3], args[4], args[5]);
        }

        var images = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 32;
        var dataset = args.Length > 1 ? args[1] : "/work/shared/datasets/pokeapi-gen1";
        var scratch = Directory.CreateTempSubdirectory("pc-backbones-").FullName;
        try
        {
            var list = Path.Combine(scratch, "images.txt");
            await File.WriteAllLinesAsync(list, BenchmarkImages.Select(dataset, images).Select(i => i.Path));
            Console.WriteLine($"CPU: {Environment.ProcessorCount} logical cores; {images} images from {dataset}; random weights; 1 intra-op thread per engine, {Environment.ProcessorCount} workers (the library's defaults)");
            Console.WriteLine();
            Console.WriteLine("| Backbone | Engine | Input | Features | Images/s | ms/image (wall) | GFLOP/s | Peak RSS (MiB) |");
            Console.WriteLine("|---|---|---:|---|---:|---:|---:|---:|");
            foreach (var architecture in new[] { "resnet18", "densenet201", "vgg16" })
            {
                foreach (var size in new[] { 224, 128 })
                {
                    var (torchSpec, onnxSpec) = Prepare(architecture, size, scratch);
                    foreach (var (engine, spec) in new[] { ("ONNX Runtime", onnxSpec), ("TorchSharp", torchSpec) })
                    {
                        var result = RunChild(engine == "TorchSharp" ? "torch" : "onnx", architecture, size, spec.ModelPath, list);
                        var gflops = GflopsAt224[architecture] * (size / 224.0) * (size / 224.0);
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"| {architecture} | {engine} | {size} | {string.Join('x', spec.FeatureShape)} | {result.ImagesPerSecond:F1} | {1000 / result.ImagesPerSecond:F0} | {result.ImagesPerSecond * gflops:F1} | {result.PeakRssMiB:F0} |"));
                    }
                }
            }

            return 0;
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static (BackboneSpec Torch, BackboneSpec Onnx) Prepare(string architecture, int size, string scratch)
    {
        TorchRuntime.EnsureInitialized();
        var weights = Path.Combine(scratch, $"{architecture}.safetensors");
        if (!File.Exists(weights))
        {
            torch.manual_seed(1);
            using var module = TorchArchitecture.Get(architecture).Create(1000);
            module.save_safetensors(weights);
        }

        var torchSpec = Spec(architecture, weights, size) with { WeightSources = [] };
        var onnxPath = Path.Combine(scratch, $"{architecture}-{size}.onnx");
        File.WriteAllBytes(onnxPath, TorchGraphExporter.Export(torchSpec));
        return (torchSpec, BackboneSpec.FromOnnx(onnxPath));
    }

    private static BackboneSpec Spec(string architecture, string weights, int size) => architecture switch
    {
        "resnet18" => BackboneSpec.ResNet18Torch(weights, size),
        "densenet201" => BackboneSpec.DenseNet201Torch(weights, size),
        _ => BackboneSpec.VGG16Torch(weights, size),
    };

    internal static ChildResult RunChild(string engine, string architecture, int size, string modelPath, string list)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { typeof(BackboneThroughput).Assembly.Location, "backbones", "--child", engine, size.ToString(CultureInfo.InvariantCulture), architecture, modelPath, list })
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var line = output.Split('\n').LastOrDefault(l => l.StartsWith('{')) ?? throw new InvalidOperationException($"child failed: {output}");
        return JsonSerializer.Deserialize<ChildResult>(line)!;
    }

    private static async Task<int> ChildAsync(string engine, int size, string architecture, string modelPath, string list)
    {
        var items = (await File.ReadAllLinesAsync(list)).Select(p => new DatasetItem { Path = p, Label = "x" }).ToArray();
        var spec = engine == "torch" ? Spec(architecture, modelPath, size) with { WeightSources = [] } : BackboneSpec.FromOnnx(modelPath, preprocessing: ImagePreprocessing.TorchImageNet);
        using var featurizer = new ImageFeaturizer(spec, new FeaturizerOptions { UseCache = false });
        await featurizer.FeaturizeAsync(items.Take(2).ToArray());
        var watch = Stopwatch.StartNew();
        var set = await featurizer.FeaturizeAsync(items);
        watch.Stop();
        if (set.Failed.Count > 0)
        {
            throw new InvalidOperationException($"{set.Failed.Count} images failed");
        }

        var hwm = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        var kib = double.Parse(hwm.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        Console.WriteLine(JsonSerializer.Serialize(new ChildResult(items.Length / watch.Elapsed.TotalSeconds, kib / 1024)));
        return 0;
    }

    internal sealed record ChildResult(double ImagesPerSecond, double PeakRssMiB);
}
