using PokeClassifier.Data;
using PokeClassifier.Features;

namespace PokeClassifier.Pipeline;

/// <summary>
/// The features of a set of images through one backbone's featurizer, found by path: what a fold's head trains (and may be scored)
/// on. The experiment computes one per backbone for every fold and configuration; a single run computes its own.
/// </summary>
internal sealed class FoldFeatures
{
    private readonly Dictionary<string, int> _rowByPath = new(StringComparer.Ordinal);

    private FoldFeatures(ImageFeaturizer featurizer, FeatureSet features, TimeSpan elapsed)
    {
        Featurizer = featurizer;
        Features = features;
        Elapsed = elapsed;
        for (var i = 0; i < features.Items.Count; i++)
        {
            _rowByPath[features.Items[i].Path] = i;
        }
    }

    /// <summary>The featurizer that computed them (not owned).</summary>
    public ImageFeaturizer Featurizer { get; }

    /// <summary>The features, in the featurizer's row order.</summary>
    public FeatureSet Features { get; }

    /// <summary>Wall time of the featurization.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>Featurizes <paramref name="items"/> (through the cache).</summary>
    public static async Task<FoldFeatures> ComputeAsync(
        ImageFeaturizer featurizer, IReadOnlyList<DatasetItem> items, IProgress<FeaturizationProgress>? progress, CancellationToken cancellationToken)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var features = await featurizer.FeaturizeAsync(items, items.Count == 0 ? null : progress, cancellationToken).ConfigureAwait(false);
        return new FoldFeatures(featurizer, features, watch.Elapsed);
    }

    /// <summary>The rows of <paramref name="items"/>, in their order; images that were not featurized (they failed) are left out.</summary>
    public int[] Rows(IReadOnlyList<DatasetItem> items) =>
        items.Select(i => _rowByPath.TryGetValue(i.Path, out var r) ? r : -1).Where(r => r >= 0).ToArray();
}
