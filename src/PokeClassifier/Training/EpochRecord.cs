namespace PokeClassifier.Training;

/// <summary>
/// One epoch of a head (or fine-tuning) training run: losses, accuracies, the learning rate in force and the epoch's wall time.
/// The ML.NET path fits in one call and records no epochs.
/// </summary>
public sealed record EpochRecord
{
    /// <summary>The epoch number, starting at 1.</summary>
    public required int Epoch { get; init; }

    /// <summary>The mean training loss over the epoch.</summary>
    public required double TrainLoss { get; init; }

    /// <summary>The training accuracy over the epoch, 0 to 1.</summary>
    public required double TrainAccuracy { get; init; }

    /// <summary>The validation loss after the epoch, when there is a validation set.</summary>
    public double? ValidationLoss { get; init; }

    /// <summary>The validation accuracy after the epoch, 0 to 1, when there is a validation set.</summary>
    public double? ValidationAccuracy { get; init; }

    /// <summary>The validation macro-F1 after the epoch, 0 to 1, when there is a validation set.</summary>
    public double? ValidationMacroF1 { get; init; }

    /// <summary>The learning rate of the first parameter group at the epoch's first step (per-step schedules change it within the epoch).</summary>
    public required double LearningRate { get; init; }

    /// <summary>Wall time of the epoch in seconds.</summary>
    public required double Seconds { get; init; }
}
