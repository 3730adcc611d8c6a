using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using PokeClassifier.Backbones;
using PokeClassifier.Features;

namespace PokeClassifier.Benchmarks;

/// <summary>What a child process reports after featurizing N images with the cache off.</summary>
internal sealed record MemorySample
{
    public int Images { get; init; }

    public double Seconds { get; init; }

    /// <summary>Peak resident set size (VmHWM) of the whole process, in bytes.</summary>
    public long PeakRssBytes { get; init; }

    /// <summary>Resident set size once the featurizer is built (runtime, ONNX Runtime sessions, model files), before any image.</summary>
    public long SetupRssBytes { get; init; }

    /// <summary>
    /// Peak resident set size while featurizing only (VmHWM reset through /proc/self/clear_refs after set-up), or 0 where the
    /// kernel does not allow the reset.
    /// </summary>
    public long FeaturizePeakRssBytes { get; init; }

    /// <summary>What featurizing added on top of the set-up process at its peak.</summary>
    public long FeaturizeGrowthBytes => FeaturizePeakRssBytes > 0 ? FeaturizePeakRssBytes - SetupRssBytes : PeakRssBytes - SetupRssBytes;

    /// <summary>Resident set size at the end (VmRSS), in bytes.</summary>
    public long EndRssBytes { get; init; }

    /// <summary>Managed heap in use at the end without forcing a collection (GC.GetTotalMemory(false)).</summary>
    public long ManagedBytes { get; init; }

    /// <summary>Managed heap after a full blocking collection, with the features still referenced.</summary>
    public long ManagedAfterCollectBytes { get; init; }

    /// <summary>Largest committed managed heap seen by any collection (GCMemoryInfo.TotalCommittedBytes, max over kinds).</summary>
    public long PeakCommittedBytes { get; init; }

    public int Gen2Collections { get; init; }

    /// <summary>The features' own size: images x 512 floats.</summary>
    public long FeatureBytes { get; init; }
}

/// <summary>Measures peak memory in a fresh process, so that earlier measurements do not leave their high-water mark behind.</summary>
internal static class MemoryProbe
{
    private const string Marker = "MEMORY-SAMPLE ";

    /// <summary>Runs in the child: featurizes <paramref name="count"/> images with the cache off and prints one JSON line.</summary>
    public static async Task<int> RunChildAsync(string dataset, int count)
    {
        var items = BenchmarkImages.Select(dataset, count);
        using var featurizer = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { UseCache = false });
        var (setupPeak, setup) = ReadRss();
        var reset = TryResetPeak();
        var watch = Stopwatch.StartNew();
        var set = await featurizer.FeaturizeAsync(items);
        var seconds = watch.Elapsed.TotalSeconds;
        var (runPeak, end) = ReadRss();
        var managed = GC.GetTotalMemory(forceFullCollection: false);
        var committed = new[] { GCKind.Any, GCKind.Background, GCKind.Ephemeral, GCKind.FullBlocking }
            .Max(k => GC.GetGCMemoryInfo(k).TotalCommittedBytes);
        var afterCollect = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(set);
        var sample = new MemorySample
        {
            Images = set.Items.Count,
            Seconds = seconds,
            PeakRssBytes = Math.Max(setupPeak, runPeak),
            SetupRssBytes = setup,
            FeaturizePeakRssBytes = reset ? runPeak : 0,
            EndRssBytes = end,
            ManagedBytes = managed,
            ManagedAfterCollectBytes = afterCollect,
            PeakCommittedBytes = committed,
            Gen2Collections = GC.CollectionCount(2),
            FeatureBytes = (long)set.Items.Count * set.FeatureLength * sizeof(float),
        };
        Console.WriteLine(Marker + JsonSerializer.Serialize(sample));
        return set.Items.Count == count ? 0 : 1;
    }

    /// <summary>Starts this program again with <c>--child featurize N</c> and reads its sample.</summary>
    public static MemorySample Measure(string dataset, int count)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
        {
            // Started as "dotnet PokeClassifier.Benchmarks.dll" rather than through the app host.
            start.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        }

        foreach (var a in new[] { "--child", "featurize", count.ToString(CultureInfo.InvariantCulture), "--dataset", dataset })
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith(Marker, StringComparison.Ordinal));
        if (process.ExitCode != 0 || line is null)
        {
            throw new InvalidOperationException($"The memory child for {count} images failed (exit code {process.ExitCode}): {output}");
        }

        return JsonSerializer.Deserialize<MemorySample>(line[Marker.Length..])!;
    }

    /// <summary>Reads VmHWM (peak) and VmRSS (current) from /proc/self/status; zeros where that file does not exist.</summary>
    public static (long Peak, long Current) ReadRss()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status))
        {
            return (0, Environment.WorkingSet);
        }

        long peak = 0, current = 0;
        foreach (var line in File.ReadLines(status))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                peak = ParseKiB(line);
            }
            else if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                current = ParseKiB(line);
            }
        }

        return (peak, current);
    }

    /// <summary>Resets VmHWM to the current RSS (Linux 4.0 and later), so the next peak read covers what follows only.</summary>
    private static bool TryResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static long ParseKiB(string line) =>
        long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
}
