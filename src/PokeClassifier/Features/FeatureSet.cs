using PokeClassifier.Data;

namespace PokeClassifier.Features;

/// <summary>Progress of a featurization run.</summary>
/// <param name="Completed">Images done (computed, read from the cache or skipped).</param>
/// <param name="Total">Images in the run.</param>
/// <param name="CacheHits">Images whose features came from the cache.</param>
public readonly record struct FeaturizationProgress(int Completed, int Total, int CacheHits);

/// <summary>The features of a list of images, in the order of <see cref="Items"/>, plus the images that could not be featurized.</summary>
public sealed class FeatureSet
{
    private readonly float[][] _features;

    internal FeatureSet(string backbone, int featureLength, IReadOnlyList<DatasetItem> items, float[][] features, IReadOnlyList<SkippedFile> failed, int cacheHits, int computed, TimeSpan elapsed)
    {
        Backbone = backbone;
        FeatureLength = featureLength;
        Items = items;
        _features = features;
        Failed = failed;
        CacheHits = cacheHits;
        Computed = computed;
        Elapsed = elapsed;
    }

    /// <summary>The backbone that produced the features.</summary>
    public string Backbone { get; }

    /// <summary>Values per image.</summary>
    public int FeatureLength { get; }

    /// <summary>The featurized images.</summary>
    public IReadOnlyList<DatasetItem> Items { get; }

    /// <summary>Images that failed to decode during this run, with the reason (they are not in <see cref="Items"/>).</summary>
    public IReadOnlyList<SkippedFile> Failed { get; }

    /// <summary>How many images were served by the cache.</summary>
    public int CacheHits { get; }

    /// <summary>How many images went through the backbone.</summary>
    public int Computed { get; }

    /// <summary>Wall time of the run.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>The features of item <paramref name="index"/>.</summary>
    public ReadOnlyMemory<float> this[int index] => _features[index];

    internal float[] Raw(int index) => _features[index];
}
