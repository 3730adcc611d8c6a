using System.Globalization;

namespace PokeClassifier.Experiments;

/// <summary>
/// Wall-clock costs of one configuration, in an experiment or a single run (<see cref="ClassificationRun.Timings"/>). These vary from
/// run to run; every other number of a result does not.
/// </summary>
public sealed record ConfigurationTimings
{
    /// <summary>
    /// Seconds spent featurizing the images of the experiment with this configuration's backbone. Featurization runs once per backbone
    /// and is shared by every configuration on it, so they all show the same value; a warm feature cache makes it small.
    /// </summary>
    public double FeaturizationSeconds { get; init; }

    /// <summary>Seconds spent fitting the head (for k-fold, the mean over folds).</summary>
    public double TrainingSeconds { get; init; }

    /// <summary>
    /// Milliseconds to classify one image end to end (read, decode, backbone, head), without the feature cache: the mean over a
    /// sample of test images after one warm-up prediction. Zero when not measured.
    /// </summary>
    public double PredictionMillisecondsPerImage { get; init; }

    /// <summary>
    /// Seconds spent featurizing (cache first) and scoring the test images and computing the reports, when measured apart from
    /// training (a single run, <see cref="ClassificationRun.Timings"/>); 0 in an experiment, which scores the features it already has.
    /// </summary>
    public double EvaluationSeconds { get; init; }

    /// <summary>Images whose features the backbone computed in this run.</summary>
    public int FeaturesComputed { get; init; }

    /// <summary>Images whose features came from the feature cache.</summary>
    public int FeaturesFromCache { get; init; }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"featurization {FeaturizationSeconds:F1} s ({FeaturesComputed} computed, {FeaturesFromCache} cached), training {TrainingSeconds:F2} s, prediction {PredictionMillisecondsPerImage:F1} ms/image{(EvaluationSeconds > 0 ? $", evaluation {EvaluationSeconds:F1} s" : string.Empty)}");
}
