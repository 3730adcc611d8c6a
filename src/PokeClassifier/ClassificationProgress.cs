using PokeClassifier.Training.Custom;
using PokeClassifier.Training;

namespace PokeClassifier;

/// <summary>The step a classification run is in.</summary>
public enum ClassificationStage
{
    /// <summary>Reading and checking the dataset's files.</summary>
    LoadingDataset,

    /// <summary>Computing (or reading cached) backbone features of the training and validation images.</summary>
    Featurizing,

    /// <summary>Fitting the head.</summary>
    Training,

    /// <summary>Predicting the test images and computing the reports.</summary>
    Evaluating,

    /// <summary>Downloading the backbone's weights into the weight cache (units: KiB; only when they are not cached).</summary>
    DownloadingWeights,
}

/// <summary>Progress of a classification run: the stage and how far it is.</summary>
/// <param name="Stage">The current stage.</param>
/// <param name="Completed">Units done in this stage (images; for training 0/1 for an ML.NET head, batches of all epochs for a TorchSharp head; KiB for downloads).</param>
/// <param name="Total">Units in this stage.</param>
public readonly record struct ClassificationProgress(ClassificationStage Stage, int Completed, int Total)
{
    /// <summary>While a TorchSharp head trains: its epoch, batch and loss (reported after every batch); otherwise <see langword="null"/>.</summary>
    public TrainingProgress? Training { get; init; }

    /// <summary>Fraction of the stage done, 0 to 1.</summary>
    public double Fraction => Total <= 0 ? 0 : (double)Completed / Total;

    /// <inheritdoc />
    public override string ToString() => $"{Stage} {Completed}/{Total}";
}
