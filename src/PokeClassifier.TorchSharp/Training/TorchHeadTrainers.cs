using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Features;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.FineTuning;
using PokeClassifier.Training.LearningRate;

namespace PokeClassifier.Training;

/// <summary>The TorchSharp heads on features, with the epoch loop.</summary>
internal sealed class TorchHeadTrainer(CustomHeadOptions head, TrainingOptions training) : HeadTrainer
{
    public override TrainingOptions? Loop => training;

    public override IClassifierHead Train(IReadOnlyList<string> classes, FeatureRows train, FeatureRows? validation, int[] featureShape, int seed, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken) =>
        TorchHead.Train(classes, (train.Rows, train.Labels), validation is null || validation.Rows.Count == 0 ? null : (validation.Rows, validation.Labels), featureShape, head, training, seed, progress, cancellationToken);

    public override LearningRateFinderResult FindLearningRate(
        IReadOnlyList<string> classes, FeatureRows train, int[] featureShape, int seed, LearningRateFinderOptions options, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken) =>
        TorchHead.FindLearningRate(classes, (train.Rows, train.Labels), featureShape, head, training, options, seed, progress, cancellationToken);
}

/// <summary>Fine-tuning: trains the backbone and the head from the images.</summary>
internal sealed class FineTuneTrainer(FineTuneHeadConfiguration configuration) : HeadTrainer
{
    public override TrainingOptions? Loop => configuration.Training;

    public override bool UsesFeatures => false;

    public override FineTuneResult TrainFromImages(
        BackboneSpec backbone, IReadOnlyList<string> classes, IReadOnlyList<DatasetItem> train, IReadOnlyList<DatasetItem> validation, FeaturizerOptions featurizer, int seed,
        IProgress<TrainingProgress>? progress, CancellationToken cancellationToken) =>
        FineTuner.Train(backbone, classes, train, validation, configuration, featurizer, seed, progress, cancellationToken);

    public override LearningRateFinderResult FindLearningRateFromImages(
        BackboneSpec backbone, IReadOnlyList<string> classes, IReadOnlyList<DatasetItem> train, FeaturizerOptions featurizer, int seed, LearningRateFinderOptions options,
        IProgress<TrainingProgress>? progress, CancellationToken cancellationToken) =>
        FineTuner.FindLearningRate(backbone, classes, train, configuration, featurizer, seed, options, progress, cancellationToken);
}
