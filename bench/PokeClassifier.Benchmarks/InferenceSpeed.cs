using System.Diagnostics;
using System.Globalization;
using PokeClassifier.Backbones;
using PokeClassifier.Features;

namespace PokeClassifier.Benchmarks;

/// <summary>
/// `speed`: FP32 against int8 inference alone, one session with one thread each, runs interleaved image by image, timed by the
/// process's CPU time as well as wall time (CPU time per image is what a loaded machine distorts least).
/// </summary>
internal static class InferenceSpeed
{
    public static async Task<int> RunAsync(string[] args)
    {
        var images = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 30;
        var dataset = args.Length > 1 ? args[1] : BenchmarkImages.DefaultDataset;
        var items = BenchmarkImages.Select(dataset, images);
        var spec = BackboneSpec.ResNet18;
        var scratch = Directory.CreateTempSubdirectory("pokeclassifier-speed-");
        try
        {
            using var calibrating = new ImageFeaturizer(spec, new FeaturizerOptions { CacheDirectory = scratch.FullName, Precision = FeaturePrecision.Int8, CalibrationImages = items.Take(20).Select(i => i.Path).ToArray(), Parallelism = 1 });
            var int8 = spec with { ModelPath = calibrating.Quantization!.ModelPath };
            var tensors = BareOnnxBaseline.Predecode(spec, items);
            using var a = new BareOnnxBaseline(spec, 1, 1);
            using var b = new BareOnnxBaseline(int8, 1, 1);
            a.Run(tensors.Take(2).ToArray());
            b.Run(tensors.Take(2).ToArray());
            using var process = Process.GetCurrentProcess();
            double cpuA = 0, cpuB = 0, wallA = 0, wallB = 0;
            foreach (var t in tensors)
            {
                foreach (var (session, isA) in new[] { (a, true), (b, false) })
                {
                    process.Refresh();
                    var cpu = process.TotalProcessorTime;
                    var watch = Stopwatch.StartNew();
                    session.Run([t]);
                    var wall = watch.Elapsed.TotalMilliseconds;
                    process.Refresh();
                    var used = (process.TotalProcessorTime - cpu).TotalMilliseconds;
                    if (isA) { cpuA += used; wallA += wall; } else { cpuB += used; wallB += wall; }
                }
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"CPU {MachineLoad.CpuName()}; {tensors.Length} images, interleaved, 1 session x 1 thread each: FP32 {cpuA / tensors.Length:F1} ms CPU ({wallA / tensors.Length:F1} ms wall) per image, int8 {cpuB / tensors.Length:F1} ms CPU ({wallB / tensors.Length:F1} ms wall); int8 speed-up {cpuA / cpuB:F2}x by CPU time, {wallA / wallB:F2}x by wall time"));
            await Task.CompletedTask;
            return 0;
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }
}
