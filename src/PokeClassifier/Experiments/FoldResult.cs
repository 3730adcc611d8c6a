using PokeClassifier.Evaluation;
using PokeClassifier.Training;

namespace PokeClassifier.Experiments;

/// <summary>One fold of a configuration (the only fold of a single split): its test metrics and training history.</summary>
public sealed record FoldResult
{
    /// <summary>The fold index, starting at 0.</summary>
    public required int Fold { get; init; }

    /// <summary>Images the head was trained on.</summary>
    public required int TrainCount { get; init; }

    /// <summary>Images it was tested on.</summary>
    public required int TestCount { get; init; }

    /// <summary>The metrics on this fold's test images.</summary>
    public required MetricReport Metrics { get; init; }

    /// <summary>Seconds spent fitting the head on this fold.</summary>
    public double TrainingSeconds { get; init; }

    /// <summary>The per-epoch history (empty for ML.NET heads).</summary>
    public IReadOnlyList<EpochRecord> TrainingHistory { get; init; } = [];
}
