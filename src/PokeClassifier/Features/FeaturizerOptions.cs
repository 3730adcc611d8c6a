namespace PokeClassifier.Features;

/// <summary>Options of an <see cref="ImageFeaturizer"/>.</summary>
public sealed record FeaturizerOptions
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

    /// <summary>
    /// Called once per featurizer, with a message naming the folder and the error, when the cache cannot be written (a full disk,
    /// a read-only or permission-denied folder): the featurizer then goes on without storing features (see
    /// <see cref="ImageFeaturizer.CacheProblem"/>). May be called from a worker thread.
    /// </summary>
    /// <value>The default is <see langword="null"/> (no callback; the problem is still in <see cref="ImageFeaturizer.CacheProblem"/>).</value>
    public Action<string>? CacheWarning { get; init; }

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

    /// <summary>
    /// The arithmetic the backbone runs in. <see cref="FeaturePrecision.Int8"/> calibrates a quantized copy of the backbone on
    /// <see cref="CalibrationImages"/> (or on the first images featurized) and caches it; each precision has its own
    /// <see cref="ImageFeaturizer.Identity"/>, so features of one precision never stand in for another's.
    /// </summary>
    /// <value>The default is <see cref="FeaturePrecision.Fp32"/>.</value>
    public FeaturePrecision Precision { get; init; } = FeaturePrecision.Fp32;

    /// <summary>
    /// Int8 only: the image files to calibrate on (the user's own training images; at most <see cref="CalibrationImageCount"/> of them
    /// are used, spread evenly over the list). The featurizer calibrates, or finds the model in the cache, when it is created.
    /// <see langword="null"/> calibrates on the images of the first <see cref="ImageFeaturizer.FeaturizeAsync"/> call (the training
    /// images when the featurizer comes from <see cref="ImageClassification"/>).
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public IReadOnlyList<string>? CalibrationImages { get; init; }

    /// <summary>Int8 only: how many images calibration uses at most.</summary>
    /// <value>The default is 300.</value>
    public int CalibrationImageCount { get; init; } = 300;

    /// <summary>Int8 only: how the calibrated activations become quantization ranges.</summary>
    /// <value>The default is <see cref="CalibrationMethod.Percentile"/>.</value>
    public CalibrationMethod Calibration { get; init; } = CalibrationMethod.Percentile;

    /// <summary>
    /// Whether each image's features are the mean of the features of the image and of its mirror image (horizontal-flip test-time
    /// augmentation, applied alike to training and test images, so a head learns the features it will see). Costs a second
    /// inference per image; the features are cached under their own identity.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool FlipAveraging { get; init; }

    /// <summary>
    /// Whether each image's features are the backbone's output followed by the global average of the tensor entering its last stage
    /// (ResNet18: 512 + 256 = 768 values; the earlier stage keeps textures and parts the last one has pooled away). The backbone is
    /// rewritten once as an ONNX model with both outputs (cached by content hash under <see cref="CacheDirectory"/>) and is then a
    /// backbone like any other: its own identity in the feature cache, saved inside models. Backbones with no convolution as wide as
    /// their output (DenseNet) are refused with <see cref="NotSupportedException"/>.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool MultiLayerFeatures { get; init; }

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

        if (!Enum.IsDefined(Precision))
        {
            errors.Add($"{nameof(Precision)} must be one of {string.Join(", ", Enum.GetNames<FeaturePrecision>())} (was {(int)Precision}).");
        }

        if (!Enum.IsDefined(Calibration))
        {
            errors.Add($"{nameof(Calibration)} must be one of {string.Join(", ", Enum.GetNames<CalibrationMethod>())} (was {(int)Calibration}).");
        }

        if (CalibrationImageCount is < 1 or > 100_000)
        {
            errors.Add($"{nameof(CalibrationImageCount)} must be between 1 and 100000 (was {CalibrationImageCount}).");
        }

        if (CalibrationImages is not null)
        {
            if (Precision != FeaturePrecision.Int8)
            {
                errors.Add($"{nameof(CalibrationImages)} is used only with {nameof(Precision)} {FeaturePrecision.Int8} (was {Precision}); leave it null.");
            }

            if (CalibrationImages.Count == 0)
            {
                errors.Add($"{nameof(CalibrationImages)} must not be empty (use null to calibrate on the first images featurized).");
            }
            else if (CalibrationImages.Any(string.IsNullOrWhiteSpace))
            {
                errors.Add($"{nameof(CalibrationImages)} must not contain null or empty paths.");
            }
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid featurizer options: " + string.Join(" ", errors));
        }
    }
}
