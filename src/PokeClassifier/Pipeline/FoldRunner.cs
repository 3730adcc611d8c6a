using System.Diagnostics;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Features;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training;

namespace PokeClassifier.Pipeline;

/// <summary>The images of one fold: what the head trains, validates (may be empty) and is tested on (may be empty: training only).</summary>
internal sealed record FoldData(IReadOnlyList<string> Classes, IReadOnlyList<DatasetItem> Train, IReadOnlyList<DatasetItem> Validation, IReadOnlyList<DatasetItem> Test)
{
    public static FoldData Of(DatasetSplit split) => new(split.Classes, split.Train, split.Validation, split.Test);
}

/// <summary>The steps of a fold that progress reports around the training itself.</summary>
internal enum FoldStep
{
    /// <summary>The head starts training (its inputs are ready).</summary>
    Training,

    /// <summary>The head is trained; the test images are next.</summary>
    Trained,
}

/// <summary>How to run one fold: the resolved backbone, the head and its trainer, the seed, and where progress goes.</summary>
internal sealed record FoldRequest
{
    /// <summary>The backbone, its weights already resolved.</summary>
    public required BackboneSpec Backbone { get; init; }

    /// <summary>The head configuration (its description names the classifier).</summary>
    public required HeadConfiguration Head { get; init; }

    /// <summary>The head's trainer (<see cref="HeadConfiguration.CreateTrainer"/>).</summary>
    public required HeadTrainer Trainer { get; init; }

    /// <summary>Featurizer options, for the featurizer the runner creates (and fine-tuning's).</summary>
    public required FeaturizerOptions Featurizer { get; init; }

    /// <summary>Drives the validation hold-out and the training.</summary>
    public required int Seed { get; init; }

    /// <summary>Prefixed to data errors, such as <c>Configuration 'x', fold 2: </c>; empty for a single run.</summary>
    public string Subject { get; init; } = string.Empty;

    /// <summary>
    /// Features of every image of the fold, test images included, computed beforehand and owned by the caller (an experiment
    /// featurizes once per backbone); <see langword="null"/> to featurize the training images here and the test images through the
    /// trained classifier.
    /// </summary>
    public FoldFeatures? SharedFeatures { get; init; }

    /// <summary>Featurization of the training images, when the runner featurizes.</summary>
    public IProgress<FeaturizationProgress>? Featurizing { get; init; }

    /// <summary>When training starts and when it has ended (a head fitted in one call reports nothing else).</summary>
    public IProgress<FoldStep>? Steps { get; init; }

    /// <summary>Every training batch.</summary>
    public IProgress<TrainingProgress>? Training { get; init; }

    /// <summary>Featurization of the test images, when they go through the classifier.</summary>
    public IProgress<FeaturizationProgress>? Evaluating { get; init; }
}

/// <summary>
/// The one way a fold runs, for the single run and the experiment alike: hold out the validation set the head's loop needs ->
/// featurize (or, fine-tuning, train from the images) -> train the head -> score the test images -> a <see cref="FoldOutcome"/>.
/// </summary>
internal static class FoldRunner
{
    public static async Task<FoldOutcome> RunAsync(FoldRequest request, FoldData data, CancellationToken cancellationToken)
    {
        RequireTwoClasses(data.Train.Select(i => i.Label), request.Subject);
        var (train, validation) = ValidationSet(request, data);
        var outcome = request.Trainer.UsesFeatures
            ? await TrainOnFeaturesAsync(request, data, train, validation, cancellationToken).ConfigureAwait(false)
            : await TrainOnImagesAsync(request, data.Classes, train, validation, cancellationToken).ConfigureAwait(false);
        if (data.Test.Count == 0)
        {
            return outcome;
        }

        try
        {
            var watch = Stopwatch.StartNew();
            var evaluation = await EvaluateAsync(request, outcome.Classifier, data.Test, cancellationToken).ConfigureAwait(false);
            return outcome with { Evaluation = evaluation, Evaluating = watch.Elapsed };
        }
        catch
        {
            outcome.Classifier.Dispose();
            throw;
        }
    }

    /// <summary>Only heads trained in epochs use a validation set: the split's, else a group-aware share of the training images.</summary>
    private static (IReadOnlyList<DatasetItem> Train, IReadOnlyList<DatasetItem> Validation) ValidationSet(FoldRequest request, FoldData data)
    {
        if (request.Trainer.Loop is not { } loop)
        {
            return (data.Train, []);
        }

        return data.Validation.Count > 0 ? (data.Train, data.Validation) : Splitter.Holdout(data.Train, loop.ValidationFraction, loop.Seed ?? request.Seed);
    }

    private static async Task<FoldOutcome> TrainOnFeaturesAsync(
        FoldRequest request, FoldData data, IReadOnlyList<DatasetItem> train, IReadOnlyList<DatasetItem> validation, CancellationToken cancellationToken)
    {
        var shared = request.SharedFeatures;
        var featurizer = shared?.Featurizer ?? new ImageFeaturizer(request.Backbone, request.Featurizer);
        try
        {
            var features = shared ?? await FoldFeatures.ComputeAsync(featurizer, [.. train, .. validation], request.Featurizing, cancellationToken).ConfigureAwait(false);
            var set = features.Features;
            RequireTwoClasses(features.Rows(data.Train).Select(r => set.Items[r].Label), request.Subject);
            var (trainRows, validationRows) = (features.Rows(train), features.Rows(validation));
            request.Steps?.Report(FoldStep.Training);
            var watch = Stopwatch.StartNew();
            var head = await Task.Run(
                () => request.Trainer.Train(
                    data.Classes, FeatureRows.Of(set, trainRows), validationRows.Length == 0 ? null : FeatureRows.Of(set, validationRows), [.. featurizer.OutputShape], request.Seed, request.Training, cancellationToken),
                cancellationToken).ConfigureAwait(false);
            request.Steps?.Report(FoldStep.Trained);
            return new FoldOutcome
            {
                Classifier = new TrainedClassifier(featurizer, ownsFeaturizer: shared is null, head, request.Head.Description),
                TrainCount = trainRows.Length,
                History = head.Training?.History ?? [],
                Featurization = shared is null ? features.Elapsed : TimeSpan.Zero,
                Training = watch.Elapsed,
                Computed = set.Computed,
                CacheHits = set.CacheHits,
                TrainingSkipped = shared is null ? set.Failed : [],
            };
        }
        catch
        {
            if (shared is null)
            {
                featurizer.Dispose();
            }

            throw;
        }
    }

    private static async Task<FoldOutcome> TrainOnImagesAsync(
        FoldRequest request, IReadOnlyList<string> classes, IReadOnlyList<DatasetItem> train, IReadOnlyList<DatasetItem> validation, CancellationToken cancellationToken)
    {
        request.Steps?.Report(FoldStep.Training);
        var result = await Task.Run(
            () => request.Trainer.TrainFromImages(request.Backbone, classes, train, validation, request.Featurizer, request.Seed, request.Training, cancellationToken),
            cancellationToken).ConfigureAwait(false);
        request.Steps?.Report(FoldStep.Trained);
        return new FoldOutcome
        {
            Classifier = result.Classifier,
            TrainCount = train.Count,
            History = result.Classifier.Training?.History ?? [],
            Featurization = result.Preparation,
            Training = result.Training,
            Computed = result.FrozenActivationsComputed,
            TrainingSkipped = result.Skipped,
        };
    }

    /// <summary>Scores the test images: from the shared features when the head was trained on them, else through the classifier (which featurizes them, cache first).</summary>
    private static async Task<EvaluationResult> EvaluateAsync(FoldRequest request, TrainedClassifier classifier, IReadOnlyList<DatasetItem> test, CancellationToken cancellationToken)
    {
        if (request.SharedFeatures is not { } shared || !request.Trainer.UsesFeatures)
        {
            return await classifier.EvaluateAsync(test, request.Evaluating, cancellationToken).ConfigureAwait(false);
        }

        var rows = shared.Rows(test);
        if (rows.Length == 0)
        {
            throw new DatasetException($"{request.Subject}no test image could be featurized.");
        }

        return classifier.Evaluate(shared.Features, rows);
    }

    private static void RequireTwoClasses(IEnumerable<string> labels, string subject)
    {
        var classes = labels.Distinct(StringComparer.Ordinal).Count();
        if (classes < 2)
        {
            throw new DatasetException($"{subject}Training needs at least two classes; the training set has {classes}. A classifier cannot learn to tell one class from nothing.");
        }
    }
}
