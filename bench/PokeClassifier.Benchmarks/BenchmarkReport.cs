using System.Globalization;
using System.Runtime.InteropServices;
using PokeClassifier.Features;

namespace PokeClassifier.Benchmarks;

/// <summary>The Markdown report: one table of measurements and targets, then the checks and the explanatory figures.</summary>
internal sealed class BenchmarkReport
{
    /// <summary>
    /// What featurizing's peak RSS (above the set-up process) may grow by, beyond the extra features, from the smaller to the larger
    /// run. Identical runs differ by up to ~16 MiB (allocator and collector timing); 32 MiB over 300 extra images still catches anything
    /// kept per image from about 110 KB up (one input tensor is 588 KB, one decoded 224 x 224 image 196 KB). Managed memory kept per
    /// image is checked exactly by <see cref="RetainedAllowanceBytes"/>.
    /// </summary>
    internal const long MemoryAllowanceBytes = 32L << 20;

    /// <summary>What the managed heap after a full collection may grow by beyond the extra features: identical runs differ by up to ~1 MiB.</summary>
    internal const long RetainedAllowanceBytes = 2L << 20;

    /// <summary>Above this share of the machine taken by other processes during a best run, its ratios are flagged as measured on a busy machine.</summary>
    internal const double NoisyShare = 0.10;

    public required int Cores { get; init; }

    public required string Cpu { get; init; }

    public required string Dataset { get; init; }

    public required Timing EndToEnd { get; init; }

    public required Timing Cached { get; init; }

    public required Timing Bare { get; init; }

    public required Timing BareSingle { get; init; }

    public Timing? MLNet { get; init; }

    /// <summary>Samples per size: [size][repetition].</summary>
    public MemorySample[][]? Memory { get; init; }

    public required StageCosts Stages { get; init; }

    public required FeatureSet FirstRun { get; init; }

    public required FeatureSet SecondRun { get; init; }

    public required double BareMaxAbsDiff { get; init; }

    public double? MLNetMeanCosine { get; init; }

    /// <summary>Int8 (null with --skip-int8): the library end to end with the quantized model, and bare sessions on it.</summary>
    public Timing? EndToEndInt8 { get; init; }

    public Timing? BareInt8 { get; init; }

    public StageCosts? StagesInt8 { get; init; }

    public QuantizationInfo? Calibration { get; init; }

    public FeatureSet? FirstRunInt8 { get; init; }

    public double? BareInt8MaxAbsDiff { get; init; }

    public double? Int8MeanCosine { get; init; }

    public double? Int8MinCosine { get; init; }

    private double? Int8BareRatio => EndToEndInt8 is null ? null : EndToEndInt8.ImagesPerSecond / BareInt8!.ImagesPerSecond;

    private double? Int8MLNetRatio => EndToEndInt8 is null || MLNet is null ? null : EndToEndInt8.ImagesPerSecond / MLNet.ImagesPerSecond;

    private double? Int8Fp32Ratio => EndToEndInt8 is null ? null : EndToEndInt8.ImagesPerSecond / EndToEnd.ImagesPerSecond;

    private bool FirstRunInt8Valid => FirstRunInt8 is null || (FirstRunInt8.Computed == EndToEnd.Images && FirstRunInt8.Failed.Count == 0);

    private double CachedRatio => Cached.ImagesPerSecond / EndToEnd.ImagesPerSecond;

    private double BareRatio => EndToEnd.ImagesPerSecond / Bare.ImagesPerSecond;

    private double? MLNetRatio => MLNet is null ? null : EndToEnd.ImagesPerSecond / MLNet.ImagesPerSecond;

    /// <summary>Per size, the sample whose featurizing added least (the least disturbed run, as for times).</summary>
    private MemorySample[]? BestMemory => Memory?.Select(samples => samples.MinBy(s => s.FeaturizeGrowthBytes)!).ToArray();

    private long? RssGrowth => BestMemory is { } m ? m[1].FeaturizeGrowthBytes - m[0].FeaturizeGrowthBytes : null;

    private long? WholePeakGrowth => Memory is { } m ? m[1].Min(s => s.PeakRssBytes) - m[0].Min(s => s.PeakRssBytes) : null;

    /// <summary>Median against median: a single run now and then keeps ~1 MiB less, which a lowest-of comparison would turn into noise.</summary>
    private long? RetainedGrowth => Memory is { } m ? Median(m[1].Select(s => s.ManagedAfterCollectBytes)) - Median(m[0].Select(s => s.ManagedAfterCollectBytes)) : null;

    private long? FeatureGrowth => BestMemory is { } m ? m[1].FeatureBytes - m[0].FeatureBytes : null;

    private bool MemoryPass => Memory is null ||
        (RssGrowth <= FeatureGrowth + MemoryAllowanceBytes && RetainedGrowth <= FeatureGrowth + RetainedAllowanceBytes &&
         Memory.All(samples => samples.All(s => s.Images == samples[0].Images)));

    private bool FirstRunValid => FirstRun.Computed == EndToEnd.Images && FirstRun.Failed.Count == 0;

    private bool SecondRunValid => SecondRun.CacheHits == Cached.Images && SecondRun.Computed == 0;

    public bool AllPass =>
        FirstRunValid && SecondRunValid && CachedRatio >= 20 && BareRatio >= 0.9 && (MLNetRatio ?? 2) >= 2 &&
        MemoryPass && FirstRunInt8Valid && (Int8BareRatio ?? 1) >= 0.9 && (Int8MLNetRatio ?? 2) >= 2 && (Int8Fp32Ratio ?? 1.5) >= 1.5;

    public void Print(TextWriter o)
    {
        o.WriteLine();
        o.WriteLine($"CPU: {Cpu}, {Cores} logical cores ({RuntimeInformation.OSDescription}, .NET {Environment.Version}, ONNX Runtime {typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly.GetName().Version})");
        o.WriteLine($"Images: {EndToEnd.Images} distinct files from {Dataset}; wall-clock per whole batch, best of {EndToEnd.Seconds.Count} (all runs: see below).");
        o.WriteLine();
        o.WriteLine("| Measurement | Images | Seconds | Images/s | Ratio vs end-to-end | Target | Result |");
        o.WriteLine("|---|---:|---:|---:|---:|---|---|");
        Row(o, "1. End-to-end `ImageFeaturizer`, files -> features, cache on and empty (first run)", EndToEnd, "-", "computed all, none failed", Verdict(FirstRunValid));
        Row(o, "2. Cached re-run, same featurizer and files (all cache hits)", Cached, F($"{CachedRatio:F1}x (cached / e2e)"), "cached / e2e >= 20x", Verdict(CachedRatio >= 20 && SecondRunValid) + Noise(EndToEnd));
        Row(o, $"3. Bare ORT session(s) on pre-decoded tensors: {Bare.Name[(Bare.Name.IndexOf(':', StringComparison.Ordinal) + 2)..]}", Bare, F($"{BareRatio:F2} (e2e / bare)"), "e2e / bare >= 0.90", Verdict(BareRatio >= 0.9) + Noise(EndToEnd, Bare));
        Row(o, $"3b. (reference) Bare ORT on pre-decoded tensors: {BareSingle.Name["Bare ORT: ".Length..]}", BareSingle, F($"{EndToEnd.ImagesPerSecond / BareSingle.ImagesPerSecond:F2} (e2e / this)"), "-", "-" + Noise(EndToEnd, BareSingle));
        if (MLNet is not null)
        {
            Row(o, "4. ML.NET `LoadImages` + `ResizeImages` + `ExtractPixels` + `DnnFeaturizeImage(ResNet18)`", MLNet, F($"{MLNetRatio:F2}x (e2e / ML.NET)"), "e2e / ML.NET >= 2x", Verdict(MLNetRatio >= 2) + Noise(EndToEnd, MLNet));
        }

        if (EndToEndInt8 is not null)
        {
            Row(o, "6. End-to-end `ImageFeaturizer` at **int8** (QDQ model from the cache), cache on and empty (first run)", EndToEndInt8, F($"{Int8Fp32Ratio:F2}x (int8 e2e / FP32 e2e)"), "int8 / FP32 >= 1.5x; computed all", Verdict(Int8Fp32Ratio >= 1.5 && FirstRunInt8Valid) + Noise(EndToEnd, EndToEndInt8));
            Row(o, $"7. Bare ORT int8 session(s) on pre-decoded tensors: {BareInt8!.Name[(BareInt8.Name.IndexOf(':', StringComparison.Ordinal) + 2)..]}", BareInt8, F($"{Int8BareRatio:F2} (int8 e2e / int8 bare)"), "e2e / bare >= 0.90", Verdict(Int8BareRatio >= 0.9) + Noise(EndToEndInt8, BareInt8));
            if (MLNet is not null)
            {
                Row(o, "8. ML.NET pipeline (line 4) against int8 end to end", MLNet, F($"{Int8MLNetRatio:F2}x (int8 e2e / ML.NET)"), "int8 e2e / ML.NET >= 2x", Verdict(Int8MLNetRatio >= 2) + Noise(EndToEndInt8, MLNet));
            }
        }

        if (BestMemory is { } m && Memory is { } all)
        {
            for (var i = 0; i < m.Length; i++)
            {
                var runs = all[i];
                var fastest = runs.MinBy(x => x.Seconds)!;
                o.WriteLine(F($"| 5. Peak RSS (VmHWM) of a fresh child process, cache off: **{Mib(runs.Min(x => x.PeakRssBytes))}** (runs: {string.Join(", ", runs.Select(x => Mib(x.PeakRssBytes)))}); after set-up {Range(runs.Select(x => x.SetupRssBytes))}, featurizing added {Range(runs.Select(x => x.FeaturizeGrowthBytes))} | {fastest.Images} | {fastest.Seconds:F2} | {fastest.Images / fastest.Seconds:F1} | - | - | - |"));
            }

            var extra = m[1].Images - m[0].Images;
            o.WriteLine(F($"| 5. Whole-process peak RSS difference {m[0].Images} -> {m[1].Images} images (lowest of each), vs the extra features ({extra} x 512 x 4 B) | {extra} | - | - | {Mib(WholePeakGrowth!.Value)} vs {Mib(FeatureGrowth!.Value)} | - (set-up varies by ~100 MiB run to run) | - |"));
            o.WriteLine(F($"| 5. Peak RSS added by featurizing (lowest of runs), growth {m[0].Images} -> {m[1].Images} images, vs the extra features | {extra} | - | - | {Mib(RssGrowth!.Value)} vs {Mib(FeatureGrowth!.Value)} | growth <= features + {Mib(MemoryAllowanceBytes)} | {Verdict(RssGrowth <= FeatureGrowth + MemoryAllowanceBytes)} |"));
            o.WriteLine(F($"| 5. Managed heap kept after a full GC (median of runs), growth {m[0].Images} -> {m[1].Images} images, vs the extra features | {extra} | - | - | {Mib(RetainedGrowth!.Value)} vs {Mib(FeatureGrowth!.Value)} | growth <= features + {Mib(RetainedAllowanceBytes)} | {Verdict(RetainedGrowth <= FeatureGrowth + RetainedAllowanceBytes)} |"));
        }

        o.WriteLine();
        o.WriteLine(F($"All runs: wall seconds (share of the {Cores} cores used by this process / by other processes meanwhile):"));
        var timings = new[] { EndToEnd, Cached, Bare, BareSingle, MLNet, EndToEndInt8, BareInt8 }.OfType<Timing>().ToArray();
        foreach (var t in timings)
        {
            var runs = t.Seconds.Select((s, i) => F($"{s:F3} ({t.CpuSeconds[i] / (s * Cores):P0} / {(t.OthersCpuSeconds[i] is { } x ? (x / (s * Cores)).ToString("P0", CultureInfo.InvariantCulture) : "?")})"));
            o.WriteLine(F($"- {t.Name}: {string.Join(", ", runs)}; best run's CPU per image {1000 * t.CpuSeconds[t.Seconds.IndexOf(t.Best)] / t.Images:F1} ms"));
        }

        var busiest = timings.Where(t => t != Cached).Max(OthersShare);
        if (busiest > NoisyShare)
        {
            o.WriteLine();
            o.WriteLine(F($"WARNING: other processes used up to {busiest:P0} of the machine during a best run; ratios marked 'busy' compare runs that did not get the same CPU. Rerun on a quiet machine or with more --repeats."));
        }

        o.WriteLine();
        o.WriteLine("Checks:");
        o.WriteLine(F($"- first run: {FirstRun.Computed} computed, {FirstRun.CacheHits} cache hits, {FirstRun.Failed.Count} failed; re-run: {SecondRun.CacheHits} hits, {SecondRun.Computed} computed"));
        o.WriteLine(F($"- bare ORT features vs library features: max |difference| = {BareMaxAbsDiff:G3} (same decoder, preprocessing and model)"));
        if (MLNetMeanCosine is { } cos)
        {
            o.WriteLine(F($"- ML.NET features vs library features: mean cosine similarity = {cos:F4} (1 = same direction; both start from ML.NET's ResNet18 preprocessing, so the pipelines do comparable work)"));
        }

        if (FirstRunInt8 is not null)
        {
            o.WriteLine(F($"- int8 first run: {FirstRunInt8.Computed} computed, {FirstRunInt8.CacheHits} cache hits, {FirstRunInt8.Failed.Count} failed; bare int8 features vs library int8 features: max |difference| = {BareInt8MaxAbsDiff:G3}"));
            o.WriteLine(F($"- int8 features vs FP32 features (same images): cosine similarity mean {Int8MeanCosine:F4}, lowest {Int8MinCosine:F4}"));
            o.WriteLine(F($"- int8 model: {Calibration}"));
        }

        o.WriteLine();
        o.WriteLine(
            F($"Per-image stage costs, one thread, {Stages.Images} images: read + SHA-256 {Stages.ReadAndHashMs:F2} ms, decode + resize {Stages.DecodeAndResizeMs:F2} ms, ") +
            F($"preprocess {Stages.PreprocessMs:F2} ms, ResNet18 inference {Stages.InferenceMs:F2} ms; work besides inference = {Stages.OverheadShare:P1}, ") +
            F($"so with every core busy end-to-end can reach at most about {1 - Stages.OverheadShare:F2} of bare."));
        if (StagesInt8 is { } q)
        {
            o.WriteLine(
                F($"At int8: ResNet18 inference {q.InferenceMs:F2} ms ({Stages.InferenceMs / q.InferenceMs:F2}x faster than FP32 on one thread); read + decode + resize + preprocess {q.ReadAndHashMs + q.DecodeAndResizeMs + q.PreprocessMs:F2} ms; ") +
                F($"work besides inference = {q.OverheadShare:P1}, so end-to-end can reach at most about {1 - q.OverheadShare:F2} of bare int8."));
        }
        if (Memory is { } mem)
        {
            o.WriteLine();
            o.WriteLine("Memory samples (child processes, cache off):");
            o.WriteLine();
            o.WriteLine("| Images | Peak RSS (VmHWM) | RSS after set-up | Peak RSS while featurizing | Added by featurizing | RSS at end | Managed heap at end | Managed after full GC | Peak GC committed | Gen2 GCs | Features |");
            o.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var s in mem.SelectMany(samples => samples))
            {
                var during = s.FeaturizePeakRssBytes > 0 ? Mib(s.FeaturizePeakRssBytes) : "(no reset)";
                o.WriteLine(F($"| {s.Images} | {Mib(s.PeakRssBytes)} | {Mib(s.SetupRssBytes)} | {during} | {Mib(s.FeaturizeGrowthBytes)} | {Mib(s.EndRssBytes)} | {Mib(s.ManagedBytes)} | {Mib(s.ManagedAfterCollectBytes)} | {Mib(s.PeakCommittedBytes)} | {s.Gen2Collections} | {Mib(s.FeatureBytes)} |"));
            }
        }

        o.WriteLine();
        o.WriteLine((AllPass ? "All targets met." : "Some targets were missed (see FAIL above).") +
                    (busiest > NoisyShare ? " Some verdicts were measured on a busy machine (marked 'busy')." : string.Empty));
    }

    private static void Row(TextWriter o, string name, Timing t, string ratio, string target, string result) =>
        o.WriteLine(F($"| {name} | {t.Images} | {(t.Best < 1 ? t.Best.ToString("F3", CultureInfo.InvariantCulture) : t.Best.ToString("F2", CultureInfo.InvariantCulture))} | {t.ImagesPerSecond:F1} | {ratio} | {target} | {result} |"));

    private static string Verdict(bool pass) => pass ? "PASS" : "FAIL";

    private static long Median(IEnumerable<long> values)
    {
        var sorted = values.Order().ToArray();
        return (sorted[(sorted.Length - 1) / 2] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>Share of the machine other processes used during the best run of <paramref name="t"/>; null off Linux.</summary>
    private double? OthersShare(Timing t) => t.OthersCpuSeconds[t.Seconds.IndexOf(t.Best)] / (t.Best * Cores);

    /// <summary>Flags a verdict whose timings were taken while other processes used a noticeable share of the machine.</summary>
    private string Noise(params Timing[] compared)
    {
        var worst = compared.Max(OthersShare);
        return worst > NoisyShare ? F($" (busy: others used {worst:P0})") : string.Empty;
    }

    private static string Range(IEnumerable<long> bytes)
    {
        var list = bytes.ToArray();
        return list.Length == 1 ? Mib(list[0]) : F($"{list.Min() / 1048576.0:F1}-{Mib(list.Max())}");
    }

    private static string Mib(long bytes) => F($"{bytes / 1048576.0:F1} MiB");

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
