using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Torch;
using TorchSharp;
using TorchSharp.PyBridge;

namespace PokeClassifier.Benchmarks;

/// <summary>
/// First use of a pretrained backbone, stage by stage, and what the conversion buys: for DenseNet201 and VGG16 (torchvision layout),
/// random weights are written as a real <c>.pth</c> (torchvision's size), then timed separately: verify (the SHA-256 pass a download
/// makes), convert (load into the TorchSharp module, write the ONNX graph, write temp + rename, as <see cref="BackboneConverter"/>
/// does on first use), and featurization of the same images through the converted ONNX graph (ONNX Runtime) and through TorchSharp's
/// frozen forward on the same <c>.pth</c>, each in a fresh child process, side by side in one run. Downloading itself is the network's
/// time and is not measured here (no network on the build machine).
/// </summary>
internal static class ConversionBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var images = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 24;
        var size = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 224;
        var dataset = args.Length > 2 ? args[2] : BenchmarkImages.DefaultDataset;
        var scratch = Directory.CreateTempSubdirectory("pc-convert-").FullName;
        try
        {
            if (!Directory.Exists(dataset))
            {
                // No shared dataset (a fresh clone): generated sprites. The real set: pokeclassifier prepare (docs/datasets.md).
                dataset = Path.Combine(scratch, "images");
                BenchmarkImages.Generate(dataset, images);
            }

            var list = Path.Combine(scratch, "images.txt");
            await File.WriteAllLinesAsync(list, BenchmarkImages.Select(dataset, images).Select(i => i.Path));
            Console.WriteLine($"CPU: {Environment.ProcessorCount} logical cores; {images} images from {dataset} at {size} px; random weights; {MachineLoadLine()}");
            Console.WriteLine();
            Console.WriteLine("| Backbone | .pth (MB) | write .pth s | verify (SHA-256) s | convert s | ONNX (MB) | ONNX Runtime img/s | TorchSharp img/s | ONNX / TorchSharp |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var architecture in new[] { "densenet201", "vgg16" })
            {
                TorchRuntime.EnsureInitialized();
                var pth = Path.Combine(scratch, $"{architecture}.pth");
                var write = Stopwatch.StartNew();
                torch.manual_seed(1);
                using (var module = TorchArchitecture.Get(architecture).Create(1000))
                {
                    PyTorchPickler.PickleStateDict(pth, module.state_dict());
                }

                write.Stop();
                var verify = Stopwatch.StartNew();
                string sha;
                using (var stream = File.OpenRead(pth))
                {
                    sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream));
                }

                verify.Stop();
                var spec = BackboneSpec.Pretrained(architecture, size);
                spec = spec with { WeightSources = [spec.WeightSources[0] with { FileName = Path.GetFileName(pth), Url = null, Sha256 = sha[..8] }] };
                var convert = Stopwatch.StartNew();
                var converted = BackboneConverter.Convert(spec, pth, Path.Combine(scratch, "weights"), null, CancellationToken.None);
                convert.Stop();

                var onnx = BackboneThroughput.RunChild("onnx", architecture, size, converted.ModelPath, list);
                var torchSharp = BackboneThroughput.RunChild("torch", architecture, size, pth, list);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {architecture} | {new FileInfo(pth).Length / 1e6:F0} | {write.Elapsed.TotalSeconds:F1} | {verify.Elapsed.TotalSeconds:F1} | {convert.Elapsed.TotalSeconds:F1} | {new FileInfo(converted.ModelPath).Length / 1e6:F0} | {onnx.ImagesPerSecond:F2} | {torchSharp.ImagesPerSecond:F2} | {onnx.ImagesPerSecond / torchSharp.ImagesPerSecond:F2}x |"));
                File.Delete(pth);
                File.Delete(converted.ModelPath);
            }

            Console.WriteLine();
            Console.WriteLine($"After: {MachineLoadLine()}");
            return 0;
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static string MachineLoadLine() =>
        File.Exists("/proc/loadavg") ? $"load average {string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3))}" : "load unknown";
}
