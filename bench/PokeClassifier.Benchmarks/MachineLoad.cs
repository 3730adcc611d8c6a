using System.Globalization;

namespace PokeClassifier.Benchmarks;

/// <summary>
/// Busy CPU time of the whole machine from /proc/stat, so a run can tell how much of the machine other processes took while it
/// was measured (the benchmark machine is shared; a run with busy neighbours is not comparable to one without).
/// </summary>
internal static class MachineLoad
{
    /// <summary>Linux reports /proc/stat in USER_HZ ticks, which is 100 per second on every mainstream architecture.</summary>
    private const double TicksPerSecond = 100;

    /// <summary>Seconds of CPU time spent busy (everything but idle and I/O wait) by all processes since boot, or null off Linux.</summary>
    public static double? BusySeconds()
    {
        const string stat = "/proc/stat";
        if (!File.Exists(stat))
        {
            return null;
        }

        var fields = File.ReadLines(stat).First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // cpu user nice system idle iowait irq softirq steal ...
        var ticks = fields.Skip(1).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        var busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + (ticks.Length > 7 ? ticks[7] : 0);
        return busy / TicksPerSecond;
    }

    /// <summary>The CPU's model name (from /proc/cpuinfo) and whether it has AVX2, AVX-512 VNNI and AVX-VNNI (int8 dot products).</summary>
    public static string CpuName()
    {
        const string info = "/proc/cpuinfo";
        if (!File.Exists(info))
        {
            return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
        }

        var lines = File.ReadLines(info).ToArray();
        var model = lines.FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        var flags = (lines.FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(':', 2)[1] ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        string Has(string flag) => flags.Contains(flag) ? "yes" : "no";
        return $"{model} (AVX2 {Has("avx2")}, AVX-512 {Has("avx512f")}, AVX-512 VNNI {Has("avx512_vnni")}, AVX-VNNI {Has("avx_vnni")})";
    }
}
