namespace PokeClassifier.Training.Custom.Callbacks;

/// <summary>The best value of a metric so far (starting at the worst possible value) and the epochs since it.</summary>
internal sealed class MetricTracker(TrainingMetric metric, double minDelta)
{
    public TrainingMetric Metric { get; } = metric;

    public bool HigherIsBetter => Metric is TrainingMetric.ValidationAccuracy or TrainingMetric.TrainingAccuracy or TrainingMetric.ValidationMacroF1;

    public double BestValue { get; private set; } = metric is TrainingMetric.ValidationAccuracy or TrainingMetric.TrainingAccuracy or TrainingMetric.ValidationMacroF1 ? double.NegativeInfinity : double.PositiveInfinity;

    public int? BestEpoch { get; private set; }

    public int EpochsSinceBest { get; private set; }

    public static bool NeedsValidation(TrainingMetric metric) => metric is TrainingMetric.ValidationLoss or TrainingMetric.ValidationAccuracy or TrainingMetric.ValidationMacroF1;

    /// <summary>The metric's training-set counterpart, for runs without a validation set.</summary>
    public static TrainingMetric TrainingVariant(TrainingMetric metric) => metric switch
    {
        TrainingMetric.ValidationLoss => TrainingMetric.TrainingLoss,
        TrainingMetric.ValidationAccuracy or TrainingMetric.ValidationMacroF1 => TrainingMetric.TrainingAccuracy,
        _ => metric,
    };

    public static string Words(TrainingMetric metric) => metric switch
    {
        TrainingMetric.ValidationLoss => "validation loss",
        TrainingMetric.ValidationAccuracy => "validation accuracy",
        TrainingMetric.ValidationMacroF1 => "validation macro-F1",
        TrainingMetric.TrainingLoss => "training loss",
        _ => "training accuracy",
    };

    public static double Read(TrainingMetric metric, EpochRecord record) => metric switch
    {
        TrainingMetric.ValidationLoss => record.ValidationLoss ?? double.NaN,
        TrainingMetric.ValidationAccuracy => record.ValidationAccuracy ?? double.NaN,
        TrainingMetric.ValidationMacroF1 => record.ValidationMacroF1 ?? double.NaN,
        TrainingMetric.TrainingLoss => record.TrainLoss,
        _ => record.TrainAccuracy,
    };

    /// <summary>Records an epoch; true when it improves on the best by more than the minimum delta.</summary>
    public bool Offer(EpochRecord record)
    {
        var value = Read(Metric, record);
        var improved = HigherIsBetter ? value > BestValue + minDelta : value < BestValue - minDelta;
        if (improved)
        {
            BestValue = value;
            BestEpoch = record.Epoch;
            EpochsSinceBest = 0;
        }
        else
        {
            EpochsSinceBest++;
        }

        return improved;
    }

    public void ResetWait() => EpochsSinceBest = 0;

    public void Write(BinaryWriter writer)
    {
        writer.Write(BestValue);
        writer.Write(BestEpoch ?? 0);
        writer.Write(EpochsSinceBest);
    }

    public void Read(BinaryReader reader)
    {
        BestValue = reader.ReadDouble();
        var best = reader.ReadInt32();
        BestEpoch = best == 0 ? null : best;
        EpochsSinceBest = reader.ReadInt32();
    }
}

/// <summary>A built-in callback whose state a checkpoint carries, so that a resumed run goes on exactly as an uninterrupted one.</summary>
internal interface ICheckpointedCallback
{
    /// <summary>A fixed name, the section of the checkpoint holding this callback's state.</summary>
    string Name { get; }

    void Write(BinaryWriter writer);

    void Read(BinaryReader reader);
}
