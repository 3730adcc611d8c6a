using System.Globalization;

namespace PokeClassifier.Training.Custom;

/// <summary>
/// Progress of a TorchSharp training run, reported after every batch; the report after an epoch's validation also carries the
/// finished epoch (<see cref="CompletedEpoch"/>).
/// </summary>
public readonly record struct TrainingProgress
{
    /// <summary>The current epoch, starting at 1.</summary>
    public required int Epoch { get; init; }

    /// <summary>The most epochs the run trains (early stopping may end sooner).</summary>
    public required int Epochs { get; init; }

    /// <summary>Batches done in the current epoch.</summary>
    public required int Batch { get; init; }

    /// <summary>Batches per epoch.</summary>
    public required int Batches { get; init; }

    /// <summary>The mean training loss of the epoch so far.</summary>
    public required double Loss { get; init; }

    /// <summary>The learning rate of the first parameter group in this epoch.</summary>
    public required double LearningRate { get; init; }

    /// <summary>The finished epoch, on the one report that follows its validation; otherwise <see langword="null"/>.</summary>
    public EpochRecord? CompletedEpoch { get; init; }

    /// <summary>Fraction of the whole run done, 0 to 1 (as if every epoch ran).</summary>
    public double Fraction => Epochs <= 0 || Batches <= 0 ? 0 : (((Epoch - 1) * (double)Batches) + Batch) / (Epochs * (double)Batches);

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"epoch {Epoch}/{Epochs}, batch {Batch}/{Batches}, loss {Loss:0.0000}");
}
