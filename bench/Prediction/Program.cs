using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using PokeClassifier;
using PokeClassifier.Backbones;
using PokeClassifier.Benchmarks;
using PokeClassifier.Cli;
using PokeClassifier.Data;
using PokeClassifier.Features;
using Spectre.Console;

// Prediction benchmark (docs/benchmarks.md, "Prediction"): `pokeclassifier predict --format csv --out FILE` over N drawn files
// against ImageFeaturizer.FeaturizeAsync's end-to-end rate over the same files (cache on and empty for both), each in a fresh
// child process; then `predict` over a quarter of the files, for peak RSS at two file counts.
//   bench/Prediction/run.sh [--files 2000] [--small 500]
if (args.Length > 0 && args[0] == "--child")
{
    return await Child.RunAsync(args[1..]);
}

int files = 2000, small = 500;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--files":
            files = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--small":
            small = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        default:
            Console.Error.WriteLine("usage: run.sh [--files 2000] [--small 500]");
            return 2;
    }
}

var work = Path.Combine(Path.GetTempPath(), $"pc-predict-bench-{Guid.NewGuid():N}");
try
{
    var big = Path.Combine(work, $"images-{files}");
    var little = Path.Combine(work, $"images-{small}");
    BenchmarkImages.Generate(big, files);
    BenchmarkImages.Generate(little, small);
    var train = Path.Combine(work, "train");
    BenchmarkImages.Generate(train, 40);

    // A model over the drawn classes (its accuracy is not the point; its cost per image is the head's real cost).
    var model = Path.Combine(work, "model.zip");
    var dataset = await ImageDataset.FromFolderAsync(train);
    using (var trained = await ImageClassification.From(dataset).WithFeatureCache(Path.Combine(work, "cache-train")).TrainAsync(dataset.Items))
    {
        trained.Save(model);
    }

    var load0 = File.ReadAllText("/proc/loadavg").Split(' ')[0];
    var featurize = Run("featurize", big, Path.Combine(work, "cache-featurize"));
    var predict = Run("predict", big, Path.Combine(work, "cache-predict"), model, Path.Combine(work, "predict-big.csv"));
    var predictSmall = Run("predict", little, Path.Combine(work, "cache-predict-small"), model, Path.Combine(work, "predict-small.csv"));
    var load1 = File.ReadAllText("/proc/loadavg").Split(' ')[0];

    var ratio = predict.Rate / featurize.Rate;
    var growth = (predict.PeakRssBytes - predictSmall.PeakRssBytes) / 1048576.0;
    Console.WriteLine($"CPU: {Cpu()}, {Environment.ProcessorCount} cores; load average {load0} before, {load1} after (other processes share the machine)");
    Console.WriteLine();
    Console.WriteLine("| Run | Files | Seconds | Images/s | Peak RSS MiB | Check |");
    Console.WriteLine("|---|---:|---:|---:|---:|---|");
    Console.WriteLine($"| FeaturizeAsync, end to end (cache on, empty) | {featurize.Files} | {featurize.Seconds:F1} | {featurize.Rate:F1} | {featurize.PeakRssBytes / 1048576.0:F0} | {featurize.Computed} computed |");
    Console.WriteLine($"| `predict --format csv --out` (model load included) | {predict.Files} | {predict.Seconds:F1} | {predict.Rate:F1} | {predict.PeakRssBytes / 1048576.0:F0} | {predict.Rows} rows; predict / featurize = **{ratio:F2}** (target >= 0.90) {(ratio >= 0.9 ? "PASS" : "FAIL")} |");
    Console.WriteLine($"| `predict --format csv --out` (model load included) | {predictSmall.Files} | {predictSmall.Seconds:F1} | {predictSmall.Rate:F1} | {predictSmall.PeakRssBytes / 1048576.0:F0} | {predictSmall.Rows} rows; peak RSS {files} vs {small} files: {growth:+0.0;-0.0} MiB ({(Math.Abs(growth) < 50 ? "flat" : "GROWS")}) |");
    return ratio >= 0.9 && Math.Abs(growth) < 50 ? 0 : 1;
}
finally
{
    try
    {
        Directory.Delete(work, recursive: true);
    }
    catch (IOException)
    {
    }
}

static Sample Run(params string[] childArgs)
{
    var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
    start.ArgumentList.Add(typeof(Child).Assembly.Location);
    start.ArgumentList.Add("--child");
    foreach (var a in childArgs)
    {
        start.ArgumentList.Add(a);
    }

    using var process = Process.Start(start)!;
    var output = process.StandardOutput.ReadToEnd();
    process.WaitForExit();
    var line = output.Split('\n').LastOrDefault(l => l.StartsWith('{'))
        ?? throw new InvalidOperationException($"child {string.Join(' ', childArgs)} failed (exit {process.ExitCode}):\n{output}");
    var sample = JsonSerializer.Deserialize<Sample>(line)!;
    Console.Error.WriteLine($"{childArgs[0]} {sample.Files} files: {sample.Seconds:F1} s, {sample.Rate:F1} images/s, peak RSS {sample.PeakRssBytes / 1048576.0:F0} MiB");
    return sample;
}

static string Cpu() => File.Exists("/proc/cpuinfo")
    ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown"
    : "unknown";

/// <summary>One child run's figures.</summary>
internal sealed record Sample(string Kind, int Files, double Seconds, long PeakRssBytes, long Rows, int Computed)
{
    public double Rate => Files / Seconds;
}

/// <summary>What a child process measures, in a fresh process each (JIT, sessions and caches start cold in both).</summary>
internal static class Child
{
    public static async Task<int> RunAsync(string[] args)
    {
        var (kind, dir, cache) = (args[0], args[1], args[2]);
        var files = Directory.EnumerateFiles(dir, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        Sample sample;
        if (kind == "featurize")
        {
            using var featurizer = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { CacheDirectory = cache });
            var items = files.Select(f => new DatasetItem { Path = f, Label = "x" }).ToArray();
            var watch = Stopwatch.StartNew();
            var set = await featurizer.FeaturizeAsync(items);
            watch.Stop();
            sample = new Sample(kind, files.Length, watch.Elapsed.TotalSeconds, PeakRss(), set.Items.Count, set.Computed);
        }
        else
        {
            var (model, output) = (args[3], args[4]);
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null), Interactive = InteractionSupport.No, Ansi = AnsiSupport.No });
            var watch = Stopwatch.StartNew();
            var code = await CliApp.RunAsync(["predict", model, dir, "--format", "csv", "--out", output, "--cache", cache], console, CancellationToken.None);
            watch.Stop();
            if (code != 0)
            {
                throw new InvalidOperationException($"predict exited with {code}");
            }

            var rows = File.ReadLines(output).LongCount() - 1;
            sample = new Sample(kind, files.Length, watch.Elapsed.TotalSeconds, PeakRss(), rows, 0);
        }

        Console.WriteLine(JsonSerializer.Serialize(sample));
        return 0;
    }

    private static long PeakRss()
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
}
