using System.Diagnostics;
using System.Runtime.InteropServices;
using PokeClassifier.Data;
using SkiaSharp;

namespace PokeClassifier.Tests.Reliability;

/// <summary>
/// Real faults for the reliability tests: small tmpfs mounts that fill up or turn read-only, FIFOs made with mkfifo, symbolic
/// links, and a thread without root's permission override (tests run as root in CI, and root reads anything chmod forbids).
/// </summary>
internal static class Faults
{
    /// <summary>How long an operation that must not hang may take before the test fails (generous: the machine may be loaded).</summary>
    public static readonly TimeSpan NoHang = TimeSpan.FromSeconds(60);

    /// <summary>Writes <paramref name="count"/> distinct drawn PNGs into <paramref name="folder"/> and returns their paths.</summary>
    public static List<string> DrawImages(string folder, int count, int seed, string shape = "circle")
    {
        Directory.CreateDirectory(folder);
        var rng = new Random(seed);
        var paths = new List<string>();
        for (var i = 0; i < count; i++)
        {
            using var bitmap = TestImages.Shape(shape, rng, 64);
            var path = Path.Combine(folder, $"{shape}_{seed}_{i:D2}.png");
            File.WriteAllBytes(path, TestImages.Encode(bitmap, SKEncodedImageFormat.Png));
            paths.Add(path);
        }

        return paths;
    }

    public static DatasetItem[] Items(IEnumerable<string> paths, string label = "x") => paths.Select(p => new DatasetItem { Path = p, Label = label }).ToArray();

    public static void MakeFifo(string path) => Run("mkfifo", path);

    public static bool IsRoot => OperatingSystem.IsLinux() && NativeMethods.geteuid() == 0;

    /// <summary>The temporary files a cache folder holds (an interrupted or failed write must leave none).</summary>
    public static string[] TempFiles(string folder) =>
        Directory.Exists(folder) ? Directory.GetFiles(folder, "*.tmp", SearchOption.AllDirectories) : [];

    public static (int Code, string Output) Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }

    /// <summary>
    /// Runs <paramref name="action"/> on a new thread that lacks CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (capabilities are per
    /// thread on Linux), so permission bits stop it even when the tests run as root. Returns false when the kernel refuses.
    /// </summary>
    public static bool TryRunWithoutPermissionOverride(Action action, out string why)
    {
        why = string.Empty;
        if (!OperatingSystem.IsLinux())
        {
            why = "per-thread capabilities are a Linux feature";
            return false;
        }

        Exception? failure = null;
        var refused = string.Empty;
        var thread = new Thread(() =>
        {
            if (NativeMethods.geteuid() == 0)
            {
                var header = new CapHeader { Version = 0x20080522, Pid = 0 };
                var data = new CapData[2];
                if (NativeMethods.capget(ref header, data) != 0)
                {
                    refused = $"capget failed (errno {Marshal.GetLastPInvokeError()})";
                    return;
                }

                data[0].Effective &= ~((1u << 1) | (1u << 2));
                if (NativeMethods.capset(ref header, data) != 0)
                {
                    refused = $"capset failed (errno {Marshal.GetLastPInvokeError()})";
                    return;
                }
            }

            try
            {
                action();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        if (refused.Length > 0)
        {
            why = refused;
            return false;
        }

        if (failure is not null)
        {
            throw new InvalidOperationException("The action failed on the thread without the permission override.", failure);
        }

        return true;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct CapHeader
    {
        public uint Version;
        public int Pid;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct CapData
    {
        public uint Effective;
        public uint Permitted;
        public uint Inheritable;
    }

    private static class NativeMethods
    {
        [DllImport("libc")]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern uint geteuid();

        [DllImport("libc", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int capget(ref CapHeader header, [In, Out] CapData[] data);

        [DllImport("libc", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int capset(ref CapHeader header, [In] CapData[] data);
    }
}

/// <summary>A small tmpfs mounted on a temporary folder (root only): a real file system that fills up or turns read-only.</summary>
internal sealed class TmpfsMount : IDisposable
{
    private TmpfsMount(string path) => Path = path;

    public string Path { get; }

    /// <summary>Mounts a tmpfs of <paramref name="kilobytes"/> KiB, or returns null with the reason the kernel gave.</summary>
    public static TmpfsMount? TryCreate(int kilobytes, out string why)
    {
        why = string.Empty;
        if (!OperatingSystem.IsLinux())
        {
            why = "tmpfs mounts need Linux";
            return null;
        }

        var dir = TestImages.NewTempDir("tmpfs");
        var (code, output) = Faults.Run("mount", "-t", "tmpfs", "-o", $"size={kilobytes}k", "tmpfs", dir);
        if (code != 0)
        {
            why = $"cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN): {output.Trim()}";
            Directory.Delete(dir);
            return null;
        }

        return new TmpfsMount(dir);
    }

    /// <summary>Fills the file system until fewer than <paramref name="leaveBytes"/> remain.</summary>
    public void Fill(long leaveBytes = 0)
    {
        var info = new DriveInfo(Path);
        var size = Math.Max(0, info.AvailableFreeSpace - leaveBytes);
        using var filler = new FileStream(System.IO.Path.Combine(Path, "filler.bin"), FileMode.Create);
        var chunk = new byte[4096];
        try
        {
            for (long written = 0; written + chunk.Length <= size; written += chunk.Length)
            {
                filler.Write(chunk);
            }

            filler.Flush();
        }
        catch (IOException)
        {
            // Full already.
        }
    }

    /// <summary>Remounts read-only; retried, as a remount fails (busy) while a file is open for writing.</summary>
    public void MakeReadOnly()
    {
        var output = string.Empty;
        for (var attempt = 0; attempt < 200; attempt++)
        {
            (var code, output) = Faults.Run("mount", "-o", "remount,ro", Path);
            if (code == 0)
            {
                return;
            }

            Thread.Sleep(5);
        }

        throw new InvalidOperationException($"Could not remount {Path} read-only: {output}");
    }

    public void Dispose()
    {
        Faults.Run("umount", "-l", Path);
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
