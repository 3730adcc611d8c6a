using System.Diagnostics;
using System.Globalization;
using PokeClassifier.Backbones;
using PokeClassifier.Benchmarks;
using PokeClassifier.Data;
using PokeClassifier.Features;

// Featurization benchmark: the library's pipeline against a bare ONNX Runtime session and ML.NET's DnnFeaturizeImage,
// measured side by side in one process over the same images. See docs/benchmarks.md.
if (args.Length > 0 && args[0] == "convert")
{
    return await PokeClassifier.Benchmarks.ConversionBenchmark.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "backbones")
{
    return await PokeClassifier.Benchmarks.BackboneThroughput.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "speed")
{
    return await PokeClassifier.Benchmarks.InferenceSpeed.RunAsync(args[1..]);
}

if (args.Length > 0 && args[0] == "accuracy")
{
    return await PokeClassifier.Benchmarks.AccuracyBenchmark.RunAsync(args[1..]);
}

var options = BenchmarkArguments.Parse(args);
if (options.ChildImages is { } childImages)
{
    return await MemoryProbe.RunChildAsync(options.Dataset, childImages);
}

return await Benchmark.RunAsync(options);

/// <summary>Command-line options.</summary>
internal sealed record BenchmarkArguments
{
    public int Images { get; init; } = 300;

    public string Dataset { get; init; } = BenchmarkImages.DefaultDataset;

    public int Repeats { get; init; } = 2;

    public int[] MemoryImages { get; init; } = [100, 400];

    public bool SkipMLNet { get; init; }

    public bool SkipMemory { get; init; }

    public bool SkipInt8 { get; init; }

    /// <summary>Set in a child process started for a memory sample.</summary>
    public int? ChildImages { get; init; }

    public static BenchmarkArguments Parse(string[] args)
    {
        var result = new BenchmarkArguments();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            result = args[i] switch
            {
                "--images" => result with { Images = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--dataset" => result with { Dataset = Next() },
                "--repeats" => result with { Repeats = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--memory-images" => result with { MemoryImages = Next().Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() },
                "--skip-mlnet" => result with { SkipMLNet = true },
                "--skip-memory" => result with { SkipMemory = true },
                "--skip-int8" => result with { SkipInt8 = true },
                "--child" when Next() == "featurize" => result with { ChildImages = int.Parse(Next(), CultureInfo.InvariantCulture) },
                "--help" or "-h" => throw new ArgumentException(Usage),
                _ => throw new ArgumentException($"Unknown argument '{args[i]}'.\n{Usage}"),
            };
        }

        if (result.Images < 1 || result.Repeats < 1 || result.MemoryImages.Length != 2 || result.MemoryImages[0] >= result.MemoryImages[1])
        {
            throw new ArgumentException("--images and --repeats must be positive; --memory-images takes two increasing counts (e.g. 100,400).\n" + Usage);
        }

        return result;
    }

    private const string Usage =
        "Usage: PokeClassifier.Benchmarks [--images N (300)] [--dataset DIR (/work/shared/datasets/pokeapi-gen1)] [--repeats R (2)] " +
        "[--memory-images A,B (100,400)] [--skip-mlnet] [--skip-memory] [--skip-int8]; accuracy [...]; backbones [N] [DIR]";
}

/// <summary>One timed pipeline: the best of its repetitions is reported.</summary>
internal sealed class Timing(string name, int images)
{
    public string Name { get; } = name;

    public int Images { get; } = images;

    public List<double> Seconds { get; } = [];

    /// <summary>Process CPU time (user + system, all threads) of each run: with wall time, shows stalls and a busy machine.</summary>
    public List<double> CpuSeconds { get; } = [];

    /// <summary>CPU seconds other processes used during each run (null off Linux).</summary>
    public List<double?> OthersCpuSeconds { get; } = [];

    public double Best => Seconds.Min();

    public double ImagesPerSecond => Images / Best;

    public T Time<T>(Func<T> run) => TimeAsync(() => Task.FromResult(run())).GetAwaiter().GetResult();

    /// <summary>Times an asynchronous run without blocking a thread-pool thread, which the library's pipeline needs.</summary>
    public async Task<T> TimeAsync<T>(Func<Task<T>> run)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var machine = MachineLoad.BusySeconds();
        var watch = Stopwatch.StartNew();
        var result = await run().ConfigureAwait(false);
        var wall = watch.Elapsed.TotalSeconds;
        process.Refresh();
        var own = (process.TotalProcessorTime - cpu).TotalSeconds;
        Seconds.Add(wall);
        CpuSeconds.Add(own);
        OthersCpuSeconds.Add(MachineLoad.BusySeconds() - machine - own is { } others ? Math.Max(0, others) : null);
        Console.Error.WriteLine($"  {Name}: {wall:F2} s wall, {own:F2} s CPU, other processes {OthersCpuSeconds[^1]:F2} s CPU");
        return result;
    }
}

internal static class Benchmark
{
    public static async Task<int> RunAsync(BenchmarkArguments options)
    {
        var scratch = Directory.CreateTempSubdirectory("pokeclassifier-bench-");
        try
        {
            return await RunInAsync(options, scratch.FullName);
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    private static async Task<int> RunInAsync(BenchmarkArguments options, string scratch)
    {
        var dataset = options.Dataset;
        var generated = false;
        if (!Directory.Exists(dataset))
        {
            dataset = Path.Combine(scratch, "generated");
            BenchmarkImages.Generate(dataset, Math.Max(options.Images, options.MemoryImages[1]));
            generated = true;
        }

        var n = options.Images;
        var items = BenchmarkImages.Select(dataset, n);
        var spec = BackboneSpec.ResNet18;
        var cores = Environment.ProcessorCount;
        var defaults = new FeaturizerOptions();
        Console.Error.WriteLine($"{n} images from {dataset}{(generated ? " (generated)" : string.Empty)}; {cores} cores; {options.Repeats} repetitions.");

        var stages = StageCosts.Measure(spec, items.Take(Math.Min(n, 40)).ToArray());

        Console.Error.WriteLine("Preparing the baselines (not timed)...");
        var tensors = BareOnnxBaseline.Predecode(spec, items);
        using var bareParallel = new BareOnnxBaseline(spec, sessions: defaults.Parallelism, intraOpThreads: defaults.IntraOpThreads);
        using var bareSingle = new BareOnnxBaseline(spec, sessions: 1, intraOpThreads: cores);
        var warm = tensors.Take(Math.Max(2, 2 * cores)).ToArray();
        bareParallel.Run(warm);
        bareSingle.Run(warm);
        // Int8: calibrated once on the measured images (not timed; docs/benchmarks.md gives the calibration time), then copied into
        // every repetition's fresh cache folder so each end-to-end run starts from an empty feature cache with the model in place.
        QuantizationInfo? calibration = null;
        BackboneSpec? int8Spec = null;
        if (!options.SkipInt8)
        {
            var calibrationWatch = Stopwatch.StartNew();
            using var calibrating = new ImageFeaturizer(spec, Int8Options(Path.Combine(scratch, "calibration"), items));
            calibration = calibrating.Quantization!;
            int8Spec = spec with { ModelPath = calibration.ModelPath };
            Console.Error.WriteLine($"Int8 model: {calibration} ({calibrationWatch.Elapsed.TotalSeconds:F1} s with set-up)");
        }

        var int8Stages = int8Spec is null ? null : StageCosts.Measure(int8Spec, items.Take(Math.Min(n, 40)).ToArray());
        using var bareInt8 = int8Spec is null ? null : new BareOnnxBaseline(int8Spec, sessions: defaults.Parallelism, intraOpThreads: defaults.IntraOpThreads);
        bareInt8?.Run(warm);
        var mlnet = options.SkipMLNet ? null : new MLNetBaseline(items.Take(4).ToArray());
        mlnet?.Run(items.Take(4).ToArray());

        var endToEnd = new Timing("End-to-end ImageFeaturizer (cache on, empty)", n);
        var cached = new Timing("Cached re-run (all hits)", n);
        var bare = new Timing($"Bare ORT: {bareParallel.Sessions} sessions x 1 intra-op thread", n);
        var single = new Timing($"Bare ORT: 1 session x {cores} intra-op threads", n);
        var mlTiming = new Timing("ML.NET LoadImages+Resize+ExtractPixels+DnnFeaturizeImage", n);
        var endToEndInt8 = new Timing("End-to-end ImageFeaturizer, int8 (cache on, empty)", n);
        var bareInt8Timing = new Timing($"Bare ORT int8: {defaults.Parallelism} sessions x 1 intra-op thread", n);
        FeatureSet? first = null, again = null, firstInt8 = null;
        float[][] bareFeatures = [], mlFeatures = [], bareInt8Features = [];

        // Repetitions are interleaved so that a noisy neighbour slows every pipeline alike; the best of each is kept.
        for (var rep = 1; rep <= options.Repeats; rep++)
        {
            Console.Error.WriteLine($"Repetition {rep} of {options.Repeats}:");
            var cacheDir = Path.Combine(scratch, $"cache-{rep}");
            using (var featurizer = new ImageFeaturizer(spec, new FeaturizerOptions { CacheDirectory = cacheDir }))
            {
                // Warm-up (JIT, ONNX Runtime's first runs), then an empty cache again.
                await featurizer.FeaturizeAsync(items.Take(2 * defaults.Parallelism).ToArray());
                featurizer.Cache!.Clear();
                first = await endToEnd.TimeAsync(() => featurizer.FeaturizeAsync(items));
                again = await cached.TimeAsync(() => featurizer.FeaturizeAsync(items));
            }

            if (calibration is not null)
            {
                var int8Cache = Path.Combine(scratch, $"cache-int8-{rep}");
                var quantized = Path.Combine(int8Cache, "quantized");
                Directory.CreateDirectory(quantized);
                foreach (var file in new[] { calibration.ModelPath, Path.ChangeExtension(calibration.ModelPath, ".json") })
                {
                    File.Copy(file, Path.Combine(quantized, Path.GetFileName(file)));
                }

                using var featurizer = new ImageFeaturizer(spec, Int8Options(int8Cache, items));
                if (featurizer.Quantization is not { FromCache: true })
                {
                    throw new InvalidOperationException("The int8 model was calibrated again instead of being read from the cache.");
                }

                await featurizer.FeaturizeAsync(items.Take(2 * defaults.Parallelism).ToArray());
                ClearFeatures(featurizer);
                firstInt8 = await endToEndInt8.TimeAsync(() => featurizer.FeaturizeAsync(items));
                bareInt8Features = bareInt8Timing.Time(() => bareInt8!.Run(tensors));
            }

            bareFeatures = bare.Time(() => bareParallel.Run(tensors));
            single.Time(() => bareSingle.Run(tensors));
            if (mlnet is not null)
            {
                mlFeatures = mlTiming.Time(() => mlnet.Run(items));
            }
        }

        // --repeats children per size, like every other measurement (the report compares the least disturbed of each).
        var memory = options.SkipMemory
            ? null
            : options.MemoryImages.Select(count => Enumerable.Range(1, options.Repeats).Select(rep =>
            {
                var sample = MemoryProbe.Measure(dataset, count);
                Console.Error.WriteLine($"  memory child {rep}, {count} images, cache off: peak RSS {sample.PeakRssBytes / 1048576.0:F1} MiB, featurizing added {sample.FeaturizeGrowthBytes / 1048576.0:F1} MiB");
                return sample;
            }).ToArray()).ToArray();

        var report = new BenchmarkReport
        {
            Cores = cores,
            Cpu = CpuModel(),
            Dataset = dataset + (generated ? " (generated)" : string.Empty),
            EndToEnd = endToEnd,
            Cached = cached,
            Bare = bare,
            BareSingle = single,
            MLNet = mlnet is null ? null : mlTiming,
            Memory = memory,
            Stages = stages,
            FirstRun = first!,
            SecondRun = again!,
            BareMaxAbsDiff = MaxAbsDiff(first!, bareFeatures),
            MLNetMeanCosine = mlnet is null ? null : MeanCosine(first!, mlFeatures),
            EndToEndInt8 = calibration is null ? null : endToEndInt8,
            BareInt8 = calibration is null ? null : bareInt8Timing,
            StagesInt8 = int8Stages,
            Calibration = calibration,
            FirstRunInt8 = firstInt8,
            BareInt8MaxAbsDiff = firstInt8 is null ? null : MaxAbsDiff(firstInt8, bareInt8Features),
            Int8MeanCosine = firstInt8 is null ? null : MeanCosine(firstInt8, [.. Enumerable.Range(0, first!.Items.Count).Select(first.Raw)]),
            Int8MinCosine = firstInt8 is null ? null : Enumerable.Range(0, first!.Items.Count).Min(i => MeanCosine(firstInt8, i, first.Raw(i))),
        };
        report.Print(Console.Out);
        return report.AllPass ? 0 : 2;
    }

    private static double MaxAbsDiff(FeatureSet set, float[][] other)
    {
        double max = 0;
        for (var i = 0; i < set.Items.Count; i++)
        {
            var a = set[i].Span;
            for (var j = 0; j < a.Length; j++)
            {
                max = Math.Max(max, Math.Abs(a[j] - other[i][j]));
            }
        }

        return max;
    }

    private static FeaturizerOptions Int8Options(string cacheDirectory, IReadOnlyList<DatasetItem> items) => new()
    {
        CacheDirectory = cacheDirectory,
        Precision = FeaturePrecision.Int8,
        CalibrationImages = items.Select(i => i.Path).ToArray(),
    };

    /// <summary>Empties the feature cache but keeps the quantized model (the cache folder's quantized/ sub-folder).</summary>
    private static void ClearFeatures(ImageFeaturizer featurizer)
    {
        foreach (var dir in Directory.GetDirectories(featurizer.Cache!.Directory).Where(d => Path.GetFileName(d) != "quantized"))
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static double MeanCosine(FeatureSet set, int i, float[] other)
    {
        var a = set[i].Span;
        double dot = 0, na = 0, nb = 0;
        for (var j = 0; j < a.Length; j++)
        {
            dot += a[j] * other[j];
            na += a[j] * a[j];
            nb += other[j] * other[j];
        }

        return dot / Math.Sqrt((na * nb) + 1e-30);
    }

    private static double MeanCosine(FeatureSet set, float[][] other)
    {
        double total = 0;
        for (var i = 0; i < set.Items.Count; i++)
        {
            var a = set[i].Span;
            double dot = 0, na = 0, nb = 0;
            for (var j = 0; j < a.Length; j++)
            {
                dot += a[j] * other[i][j];
                na += a[j] * a[j];
                nb += other[i][j] * other[i][j];
            }

            total += dot / Math.Sqrt((na * nb) + 1e-30);
        }

        return total / set.Items.Count;
    }

    private static string CpuModel()
    {
        const string cpuinfo = "/proc/cpuinfo";
        var line = File.Exists(cpuinfo) ? File.ReadLines(cpuinfo).FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal)) : null;
        return line is null ? System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString() : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
    }
}
