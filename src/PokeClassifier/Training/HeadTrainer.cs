using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Features;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.FineTuning;
using PokeClassifier.Training.LearningRate;

namespace PokeClassifier.Training;

/// <summary>Labelled feature rows of one set (training or validation), in the feature cache's row order.</summary>
internal sealed record FeatureRows(IReadOnlyList<float[]> Rows, IReadOnlyList<string> Labels)
{
    public static FeatureRows Of(FeatureSet features, IReadOnlyList<int> rows) =>
        new(rows.Select(features.Raw).ToArray(), rows.Select(r => features.Items[r].Label).ToArray());
}

/// <summary>
/// How one kind of head configuration trains: whether it needs the frozen features or the images, its epoch loop (and so its
/// validation set), and the training itself. Each <see cref="HeadConfiguration"/> creates its own, so the builder and the
/// experiment never ask which kind of head they hold: adding a head kind is one new configuration and one new trainer.
/// </summary>
internal abstract class HeadTrainer
{
    /// <summary>The epoch loop, whose <see cref="TrainingOptions.ValidationFraction"/> holds out a validation set; <see langword="null"/> for heads fitted in one call (no validation set).</summary>
    public abstract TrainingOptions? Loop { get; }

    /// <summary>Whether it trains on the frozen backbone's cached features (else on the images themselves).</summary>
    public virtual bool UsesFeatures => true;

    /// <summary>Trains a head on frozen features.</summary>
    public virtual IClassifierHead Train(IReadOnlyList<string> classes, FeatureRows train, FeatureRows? validation, int[] featureShape, int seed, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"{GetType().Name} trains from images, not features.");

    /// <summary>Trains a whole classifier from the images (fine-tuning).</summary>
    public virtual FineTuneResult TrainFromImages(
        BackboneSpec backbone, IReadOnlyList<string> classes, IReadOnlyList<DatasetItem> train, IReadOnlyList<DatasetItem> validation, FeaturizerOptions featurizer, int seed,
        IProgress<TrainingProgress>? progress, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"{GetType().Name} trains on features, not images.");

    /// <summary>The learning-rate range test on frozen features, on a fresh head built as <see cref="Train"/> builds it.</summary>
    public virtual LearningRateFinderResult FindLearningRate(
        IReadOnlyList<string> classes, FeatureRows train, int[] featureShape, int seed, LearningRateFinderOptions options, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"{GetType().Name} has no learning rate to find.");

    /// <summary>The learning-rate range test from the images (fine-tuning), on the network as its training would start.</summary>
    public virtual LearningRateFinderResult FindLearningRateFromImages(
        BackboneSpec backbone, IReadOnlyList<string> classes, IReadOnlyList<DatasetItem> train, FeaturizerOptions featurizer, int seed, LearningRateFinderOptions options,
        IProgress<TrainingProgress>? progress, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"{GetType().Name} has no learning rate to find from images.");
}

/// <summary>The ML.NET heads: one fit on the training features, no validation set.</summary>
internal sealed class MLNetHeadTrainer(MLNetHeadOptions options) : HeadTrainer
{
    public override TrainingOptions? Loop => null;

    public override IClassifierHead Train(IReadOnlyList<string> classes, FeatureRows train, FeatureRows? validation, int[] featureShape, int seed, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken) =>
        MLNetHead.Train(classes, train.Labels, train.Rows, featureShape, options, seed, cancellationToken);
}
