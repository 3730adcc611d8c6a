using PokeClassifier.Data;
using PokeClassifier.Evaluation;

namespace PokeClassifier.Training;

/// <summary>The outcome of evaluating a classifier on labelled images.</summary>
public sealed record EvaluationResult
{
    /// <summary>Accuracy, precision, recall, F1 (macro, weighted, per class), confusion matrix, top-k, log-loss.</summary>
    public required MetricReport Metrics { get; init; }

    /// <summary>Every misclassified image per class, and the most-confused pairs.</summary>
    public required ErrorReport Errors { get; init; }

    /// <summary>One prediction per evaluated image (with all class probabilities).</summary>
    public required IReadOnlyList<Prediction> Predictions { get; init; }

    /// <summary>Images that could not be decoded and were therefore not evaluated.</summary>
    public required IReadOnlyList<SkippedFile> Skipped { get; init; }

    /// <summary>Milliseconds per image for featurization plus the head, measured over the run (cache hits make it smaller).</summary>
    public double MillisecondsPerImage { get; init; }
}
