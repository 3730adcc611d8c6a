using System.Globalization;

namespace PokeClassifier;

/// <summary>What kind of processor a <see cref="ComputeDevice"/> is.</summary>
public enum DeviceKind
{
    /// <summary>The CPU (the default everywhere).</summary>
    Cpu,

    /// <summary>An NVIDIA GPU through CUDA.</summary>
    Cuda,
}

/// <summary>
/// Where featurization (<see cref="Features.FeaturizerOptions.Device"/>) or TorchSharp training (<see cref="Training.Custom.TrainingOptions.Device"/>)
/// runs: <see cref="Cpu"/> (the default) or <see cref="Cuda"/> device N. CUDA needs what the CPU build of the library does not carry:
/// for ONNX Runtime, the application references <c>Microsoft.ML.OnnxRuntime.Gpu.Linux</c> (or <c>.Gpu.Windows</c>) instead of the CPU
/// native package; for TorchSharp, a CUDA libtorch package (<c>libtorch-cuda-12.8-linux-x64</c>, or <c>TorchSharp-cuda-linux</c>)
/// instead of <c>libtorch-cpu</c>. Asking for CUDA where it is missing throws <see cref="DeviceUnavailableException"/> naming what to add.
/// </summary>
public sealed record ComputeDevice
{
    private ComputeDevice(DeviceKind kind, int deviceId)
    {
        Kind = kind;
        DeviceId = deviceId;
    }

    /// <summary>The CPU.</summary>
    public static ComputeDevice Cpu { get; } = new(DeviceKind.Cpu, 0);

    /// <summary>The kind of device.</summary>
    public DeviceKind Kind { get; }

    /// <summary>The CUDA device index (0 for the CPU).</summary>
    public int DeviceId { get; }

    /// <summary>CUDA device <paramref name="deviceId"/> (0 is the first GPU).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="deviceId"/> is negative.</exception>
    public static ComputeDevice Cuda(int deviceId = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(deviceId);
        return new ComputeDevice(DeviceKind.Cuda, deviceId);
    }

    /// <summary>Parses <c>cpu</c>, <c>cuda</c> (device 0) or <c>cuda:N</c>, case-insensitively.</summary>
    /// <exception cref="FormatException">Anything else.</exception>
    public static ComputeDevice Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim().ToLowerInvariant();
        if (t == "cpu")
        {
            return Cpu;
        }

        if (t == "cuda")
        {
            return Cuda();
        }

        if (t.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(t[5..], NumberStyles.None, CultureInfo.InvariantCulture, out var id))
        {
            return Cuda(id);
        }

        throw new FormatException($"'{text}' is not a device: use cpu, cuda or cuda:N (N = 0 for the first GPU).");
    }

    /// <summary><c>cpu</c> or <c>cuda:N</c>, as <see cref="Parse"/> reads it.</summary>
    public override string ToString() => Kind == DeviceKind.Cpu ? "cpu" : string.Create(CultureInfo.InvariantCulture, $"cuda:{DeviceId}");
}

/// <summary>A <see cref="ComputeDevice"/> was asked for that this process cannot use; the message names what is missing and what to reference or install.</summary>
public sealed class DeviceUnavailableException : PokeClassifierException
{
    /// <summary>Creates the exception.</summary>
    public DeviceUnavailableException() { }

    /// <summary>Creates the exception with a message.</summary>
    public DeviceUnavailableException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and cause.</summary>
    public DeviceUnavailableException(string message, Exception innerException) : base(message, innerException) { }
}
