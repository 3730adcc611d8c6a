using System.Globalization;
using System.Text;

namespace PokeClassifier.Training.Custom;

/// <summary>What happened in a TorchSharp training run: the per-epoch history, the epoch whose weights were kept, and why it stopped.</summary>
public sealed record TrainingSummary
{
    /// <summary>One record per epoch run.</summary>
    public required IReadOnlyList<EpochRecord> History { get; init; }

    /// <summary>
    /// The epoch whose weights the trained model holds: the best epoch by the early-stopping metric when its weights were restored,
    /// else the last epoch run.
    /// </summary>
    public required int KeptEpoch { get; init; }

    /// <summary>
    /// With <see cref="TrainingOptions.WeightAveraging"/>: the first epoch whose end-of-epoch weights entered the mean the model holds
    /// (the last is <see cref="KeptEpoch"/>); <see langword="null"/> when the model holds one epoch's weights.
    /// </summary>
    public int? AveragedFromEpoch { get; init; }

    /// <summary>The best epoch by the early-stopping metric; <see langword="null"/> without early stopping.</summary>
    public int? BestEpoch { get; init; }

    /// <summary>Whether early stopping ended the run before the last epoch.</summary>
    public bool StoppedEarly { get; init; }

    /// <summary>Why training ended, in words.</summary>
    public required string StopReason { get; init; }

    /// <summary>Wall time of the whole run in seconds.</summary>
    public double Seconds { get; init; }

    /// <summary>The history as a text table.</summary>
    public string ToTable()
    {
        var sb = new StringBuilder();
        sb.AppendLine("epoch  train loss  train acc  val loss  val acc  learning rate  seconds");
        foreach (var e in History)
        {
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"{e.Epoch,5}  {e.TrainLoss,10:0.0000}  {e.TrainAccuracy,9:0.0000}  {Optional(e.ValidationLoss),8}  {Optional(e.ValidationAccuracy),7}  {e.LearningRate,13:0.######E+0}  {e.Seconds,7:0.00}{(e.Epoch == KeptEpoch ? "  <- kept" : string.Empty)}");
        }

        sb.Append(StopReason);
        return sb.ToString();
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{History.Count} epoch(s), kept epoch {KeptEpoch}: {StopReason}");

    private static string Optional(double? value) => value is { } v ? v.ToString("0.0000", CultureInfo.InvariantCulture) : "-";
}
