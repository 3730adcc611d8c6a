using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;

namespace PokeClassifier.Backbones.Torch;

/// <summary>
/// The one door to TorchSharp: every Torch entry point calls <see cref="EnsureInitialized"/> before touching a TorchSharp type.
/// It makes the native library loadable on GCC 12 systems (see <see cref="LibTorchSharpCompat"/>) when the build step did not,
/// keeps OpenMP from spinning on a shared CPU, sets the intra-op thread count, and turns a load failure into an explanation.
/// </summary>
internal static class TorchRuntime
{
    private static readonly Lock Gate = new();
    private static bool _loaded;
    private static PokeClassifierException? _failure;
    private static int _threads;

    /// <summary>What the native preparation did, for diagnostics.</summary>
    public static IReadOnlyList<LibTorchSharpPatchResult> PatchResults { get; private set; } = [];

    /// <summary>
    /// The TorchSharp device for <paramref name="device"/> (initialising TorchSharp first). CUDA needs a CUDA build of libtorch in the
    /// application and a visible GPU; where either is missing this throws <see cref="DeviceUnavailableException"/> naming it.
    /// </summary>
    public static TorchSharp.torch.Device Device(ComputeDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        EnsureInitialized();
        if (device.Kind == DeviceKind.Cpu)
        {
            return TorchSharp.torch.CPU;
        }

        if (!TorchSharp.torch.cuda.is_available())
        {
            throw new DeviceUnavailableException(
                $"Device {device} was asked for TorchSharp, but libtorch reports no CUDA device (torch.cuda.is_available() is false). The application's " +
                "libtorch has no CUDA (TorchSharp-cpu or libtorch-cpu), or no NVIDIA driver and GPU are visible. For CUDA the application references " +
                "a CUDA libtorch instead of the CPU one, e.g. libtorch-cuda-12.8-linux-x64 2.10.0 (or TorchSharp-cuda-linux 0.107.0), on a machine " +
                "with an NVIDIA driver and a visible GPU. Use ComputeDevice.Cpu (--device cpu) otherwise.");
        }

        var count = TorchSharp.torch.cuda.device_count();
        if (device.DeviceId >= count)
        {
            throw new DeviceUnavailableException($"Device {device} was asked for TorchSharp, but libtorch sees {count} CUDA device(s) (0..{count - 1}).");
        }

        return new TorchSharp.torch.Device(TorchSharp.DeviceType.CUDA, device.DeviceId);
    }

    /// <summary>Loads TorchSharp's native libraries (once) and sets libtorch's intra-op thread count.</summary>
    /// <param name="intraOpThreads">
    /// Threads one operator may use (one is fastest when several models run side by side on a shared CPU); <see langword="null"/>
    /// leaves the count as the last caller set it (1 when none has), so that loading a module or building a head inside a run
    /// never takes the run's threads away.
    /// </param>
    /// <exception cref="PokeClassifierException">TorchSharp cannot be loaded here; the message says why and what to do.</exception>
    public static void EnsureInitialized(int? intraOpThreads = null)
    {
        if (intraOpThreads is { } requested)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(requested);
        }
        lock (Gate)
        {
            if (_failure is not null)
            {
                throw _failure;
            }

            if (!_loaded)
            {
                if (OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64)
                {
                    PatchResults = PrepareNativeLibrary();
                }

                // libgomp reads this once, when libtorch loads it. Busy-waiting OpenMP workers were measured to slow every model down up
                // to 10x when the CPU is shared with other inference threads; waiting passively avoids that.
                if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
                {
                    SetNativeEnvironment("OMP_WAIT_POLICY", "PASSIVE");
                }

                try
                {
                    LoadNative();
                }
                catch (Exception e) when (e is TypeInitializationException or NotSupportedException or DllNotFoundException or EntryPointNotFoundException)
                {
                    _failure = new PokeClassifierException(ExplainFailure(), e);
                    throw _failure;
                }

                _loaded = true;
            }

            // Always set, not only when the count changes: libtorch's OpenMP thread count is a setting of the calling OS thread,
            // so a run on another thread-pool thread than the last call's would otherwise reduce with another count (and another
            // rounding) than the same run on the first thread.
            var threads = intraOpThreads ?? (_threads == 0 ? 1 : _threads);
            SetThreads(threads);
            _threads = threads;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void LoadNative() => torch.InitializeDeviceType(DeviceType.CPU);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void SetThreads(int threads) => torch.set_num_threads(threads);

    private static List<LibTorchSharpPatchResult> PrepareNativeLibrary()
    {
        var nugetRoot = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        return CandidatePaths()
            .Select(path => LibTorchSharpCompat.Apply(path, force: false, nugetRoot))
            .Where(r => r.Outcome != LibTorchSharpPatchOutcome.Missing)
            .ToList();
    }

    /// <summary>Where the runtime will look for libLibTorchSharp.so: the host's native search folders and TorchSharp.dll's folder.</summary>
    private static IEnumerable<string> CandidatePaths()
    {
        var folders = new List<string>();
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string searchDirectories)
        {
            folders.AddRange(searchDirectories.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        }

        // typeof does not run TorchSharp's static constructor (which loads the native library).
        if (Path.GetDirectoryName(typeof(torch).Assembly.Location) is { Length: > 0 } torchSharpFolder)
        {
            folders.Add(torchSharpFolder);
            folders.Add(Path.Combine(torchSharpFolder, "runtimes", "linux-x64", "native"));
        }

        return folders.Select(f => Path.GetFullPath(Path.Combine(f, LibTorchSharpCompat.FileName))).Distinct(StringComparer.Ordinal);
    }

    private static string ExplainFailure() => ExplainLoadFailure(
        OperatingSystem.IsLinux() ? LibTorchSharpCompat.SystemProvides(LibTorchSharpCompat.RequiredVersion) : null,
        OperatingSystem.IsLinux() ? LibTorchSharpCompat.FindSystemLibStdCxx() : null,
        PatchResults);

    /// <summary>The message for a failed load: TorchSharp's own blames a missing package, which is rarely the cause.</summary>
    internal static string ExplainLoadFailure(bool? systemProvidesVersion, string? libStdCxx, IReadOnlyList<LibTorchSharpPatchResult> patchResults)
    {
        var text = new StringBuilder("TorchSharp's native library could not be loaded. ");
        if (systemProvidesVersion == false)
        {
            text.Append(CultureInfo.InvariantCulture, $"The cause: TorchSharp 0.107.0's {LibTorchSharpCompat.FileName} is built with GCC 13 and asks for {LibTorchSharpCompat.RequiredVersion}, ")
                .Append(CultureInfo.InvariantCulture, $"which this system's libstdc++ ({libStdCxx}) does not have (GCC 12: Debian 12, Ubuntu 22.04); ")
                .Append("TorchSharp then wrongly reports a missing reference to libtorch-cpu-linux-x64. ")
                .Append("PokeClassifier marks that one requirement weak in the application's copy of the library (docs/torchsharp.md), but here it could not: ")
                .Append(patchResults.Count == 0
                    ? $"no {LibTorchSharpCompat.FileName} was found beside the application. "
                    : string.Join(" ", patchResults.Select(r => r.Message)) + " ")
                .Append("To fix it, build or publish the application with the PokeClassifier package (its build step patches the output), ")
                .Append("or let the first run write to the output folder, or install a libstdc++ from GCC 13 or later.");
        }
        else
        {
            text.Append("Check that the application references TorchSharp-cpu 0.107.0 (PokeClassifier brings it) and that its runtimes/linux-x64/native folder was copied; ")
                .Append("TorchSharp's own message is the inner exception.");
        }

        return text.ToString();
    }

    // .NET keeps its own copy of the environment on Unix: native libraries (libgomp) only see what setenv writes.
    private static void SetNativeEnvironment(string name, string value)
    {
        Environment.SetEnvironmentVariable(name, value);
        if (!OperatingSystem.IsWindows())
        {
            _ = NativeMethods.setenv(Encoding.UTF8.GetBytes(name + "\0"), Encoding.UTF8.GetBytes(value + "\0"), 0);
        }
    }

    private static class NativeMethods
    {
        [DllImport("libc", EntryPoint = "setenv")]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int setenv(byte[] name, byte[] value, int overwrite);
    }
}
