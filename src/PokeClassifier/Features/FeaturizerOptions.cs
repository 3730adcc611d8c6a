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
    /// Whether each image's features are the mean of the features of the image and of its mirror image (horizontal-flip test-time
    /// augmentation, applied alike to training and test images, so a head learns the features it will see). Costs a second
    /// inference per image; the features are cached under their own identity.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool FlipAveraging { get; init; }

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
