using PokeClassifier.Evaluation;
using PokeClassifier.Training;

namespace PokeClassifier.Experiments;

/// <summary>
/// The outcome of one configuration of an <see cref="Experiment"/>: metrics, errors, training history and costs. For k-fold runs,
/// <see cref="Metrics"/> and <see cref="Errors"/> pool the out-of-fold predictions (every image is tested once), and
/// <see cref="CrossValidation"/> gives the mean and spread over folds. Immutable; constructible in tests.
/// </summary>
public sealed record ConfigurationResult
{
    /// <summary>The configuration's name.</summary>
    public required string Name { get; init; }

    /// <summary>The backbone's name.</summary>
    public required string Backbone { get; init; }

    /// <summary>The head's description (for example <c>ML.NET LbfgsMaximumEntropy</c>).</summary>
    public required string Head { get; init; }

    /// <summary>The training path (for example <c>ML.NET</c>).</summary>
    /// <value>The default is <c>ML.NET</c>.</value>
    public string TrainingPath { get; init; } = "ML.NET";

    /// <summary>Whether the backbone was fine-tuned.</summary>
    public bool FineTuned { get; init; }

    /// <summary>Test metrics (pooled over folds for k-fold).</summary>
    public required MetricReport Metrics { get; init; }

    /// <summary>Misclassified images and most-confused pairs (pooled over folds for k-fold).</summary>
    public required ErrorReport Errors { get; init; }

    /// <summary>One prediction per tested image (pooled over folds for k-fold), with every class probability.</summary>
    public IReadOnlyList<Prediction> Predictions { get; init; } = [];

    /// <summary>The per-epoch history of the (first fold's) training; empty for ML.NET heads, which fit in one call.</summary>
    public IReadOnlyList<EpochRecord> TrainingHistory { get; init; } = [];

    /// <summary>Wall-clock costs.</summary>
    public required ConfigurationTimings Timings { get; init; }

    /// <summary>Size in bytes of the saved model file (<see cref="TrainedClassifier.Save"/>, backbone included); 0 when not measured.</summary>
    public long ModelSizeBytes { get; init; }

    /// <summary>
    /// The highest process working set (resident memory) seen while this configuration trained, was evaluated and saved, sampled
    /// every 50 ms. It includes memory the process already held (runtime, backbone sessions, features), so it bounds this
    /// configuration's needs from above; it varies from run to run. 0 when not measured.
    /// </summary>
    public long PeakMemoryBytes { get; init; }

    /// <summary>One entry per fold (a single entry for a single split).</summary>
    public IReadOnlyList<FoldResult> Folds { get; init; } = [];

    /// <summary>Mean and spread over folds; <see langword="null"/> for a single split.</summary>
    public CrossValidationSummary? CrossValidation { get; init; }

    /// <summary>The macro F1 that comparisons rank by: the mean over folds for k-fold, else the test set's.</summary>
    public double ComparedMacroF1 => CrossValidation?.MacroF1.Mean ?? Metrics.MacroF1;

    /// <summary>The accuracy that comparisons show: the mean over folds for k-fold, else the test set's.</summary>
    public double ComparedAccuracy => CrossValidation?.Accuracy.Mean ?? Metrics.Accuracy;

    /// <summary>Top-5 accuracy, or <see langword="null"/> when there are 5 classes or fewer.</summary>
    public double? Top5Accuracy => Metrics.TopKAccuracy.TryGetValue(5, out var v) ? v : null;

    /// <inheritdoc />
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Name}: macro F1 {ComparedMacroF1:0.0000}, accuracy {ComparedAccuracy:0.0000}");
}
