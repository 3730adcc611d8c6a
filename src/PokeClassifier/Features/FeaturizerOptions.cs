namespace PokeClassifier.Features;

/// <summary>Options of an <see cref="ImageFeaturizer"/>.</summary>
public sealed class FeaturizerOptions
{
    /// <summary>How many ONNX Runtime sessions run side by side (each also gets a decoding worker).</summary>
    /// <value>The default is <see cref="Environment.ProcessorCount"/>.</value>
    public int Parallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Threads each session may use inside one operator. One thread per session with several sessions is fastest on a shared CPU.</summary>
    /// <value>The default is 1.</value>
    public int IntraOpThreads { get; init; } = 1;

    /// <summary>Whether features are read from and written to the on-disk cache.</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool UseCache { get; init; } = true;

    /// <summary>The cache folder; <see langword="null"/> means <see cref="FeatureCache.DefaultDirectory"/>.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? CacheDirectory { get; init; }

    /// <summary>Images with more pixels than this are reduced while decoding, so memory stays bounded whatever the image size.</summary>
    /// <value>The default is 16,777,216 (4096 x 4096).</value>
    public long MaxDecodePixels { get; init; } = 4096L * 4096L;

    /// <summary>
    /// Where the backbone runs: the CPU, or a CUDA GPU through ONNX Runtime's CUDA execution provider (TorchSharp backbones: a CUDA
    /// libtorch). CUDA needs packages the library does not carry (see <see cref="ComputeDevice"/>); without them creating the
    /// featurizer throws <see cref="DeviceUnavailableException"/> naming the package to reference. On a GPU, use one session
    /// (<see cref="Parallelism"/> = 1 or 2): the sessions share the device.
    /// </summary>
    /// <value>The default is <see cref="ComputeDevice.Cpu"/>.</value>
    public ComputeDevice Device { get; init; } = ComputeDevice.Cpu;

    /// <summary>Checks every option and throws one <see cref="ArgumentException"/> listing every problem.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        if (Parallelism < 1)
        {
            errors.Add($"{nameof(Parallelism)} must be at least 1 (was {Parallelism}).");
        }

        if (IntraOpThreads < 1)
        {
            errors.Add($"{nameof(IntraOpThreads)} must be at least 1 (was {IntraOpThreads}).");
        }

        if (MaxDecodePixels < 224L * 224L)
        {
            errors.Add($"{nameof(MaxDecodePixels)} must be at least {224 * 224} (was {MaxDecodePixels}).");
        }

        if (Device is null)
        {
            errors.Add($"{nameof(Device)} must not be null (use ComputeDevice.Cpu).");
        }

        if (CacheDirectory is { Length: 0 })
        {
            errors.Add($"{nameof(CacheDirectory)} must not be empty (use null for the default).");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid featurizer options: " + string.Join(" ", errors));
        }
    }
}
