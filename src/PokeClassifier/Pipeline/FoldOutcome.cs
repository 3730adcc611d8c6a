using PokeClassifier.Data;
using PokeClassifier.Training;

namespace PokeClassifier.Pipeline;

/// <summary>What one fold produced: the trained classifier (owned by whoever receives it), its test evaluation and its costs.</summary>
internal sealed record FoldOutcome
{
    /// <summary>The trained classifier.</summary>
    public required TrainedClassifier Classifier { get; init; }

    /// <summary>The evaluation on the fold's test images; <see langword="null"/> when the fold has none (training only).</summary>
    public EvaluationResult? Evaluation { get; init; }

    /// <summary>Images the head was trained on (after the validation hold-out and decoding failures).</summary>
    public required int TrainCount { get; init; }

    /// <summary>The per-epoch history, captured when training ended (empty for heads fitted in one call).</summary>
    public IReadOnlyList<EpochRecord> History { get; init; } = [];

    /// <summary>Featurizing the training images (fine-tuning: importing the backbone and computing the frozen activations).</summary>
    public TimeSpan Featurization { get; init; }

    /// <summary>Fitting the head (and, fine-tuning, the backbone's trained blocks).</summary>
    public TimeSpan Training { get; init; }

    /// <summary>Scoring the test images and computing the reports.</summary>
    public TimeSpan Evaluating { get; init; }

    /// <summary>Training images (or frozen activations) computed in this fold.</summary>
    public int Computed { get; init; }

    /// <summary>Training images served by the feature cache.</summary>
    public int CacheHits { get; init; }

    /// <summary>Training images that could not be used, with the reason (the evaluation lists its own).</summary>
    public IReadOnlyList<SkippedFile> TrainingSkipped { get; init; } = [];
}
