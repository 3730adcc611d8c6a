using PokeClassifier.Training.Custom;
using PokeClassifier.Training;

namespace PokeClassifier.Experiments;

/// <summary>The step an experiment is in.</summary>
public enum ExperimentStage
{
    /// <summary>Downloading a backbone's weights into the weight cache (units: KiB; only when they are not cached).</summary>
    DownloadingWeights,

    /// <summary>Computing (or reading cached) backbone features of every image the experiment uses, once per backbone.</summary>
    Featurizing,

    /// <summary>Fitting heads and scoring the test images: one unit per configuration and fold.</summary>
    Training,

    /// <summary>Saving each configuration's model to measure its size, and timing end-to-end prediction.</summary>
    Measuring,
}

/// <summary>Progress of an experiment.</summary>
/// <param name="Stage">The current stage.</param>
/// <param name="Subject">What is being worked on: the backbone while featurizing, the configuration (and fold) otherwise.</param>
/// <param name="Completed">Units done in this stage: images while featurizing, configuration-folds while training and measuring.</param>
/// <param name="Total">Units in this stage.</param>
public readonly record struct ExperimentProgress(ExperimentStage Stage, string Subject, int Completed, int Total)
{
    /// <summary>While a TorchSharp head trains: its epoch, batch and loss (reported after every batch); otherwise <see langword="null"/>.</summary>
    public TrainingProgress? Training { get; init; }

    /// <summary>Fraction of the stage done, 0 to 1.</summary>
    public double Fraction => Total <= 0 ? 0 : (double)Completed / Total;

    /// <inheritdoc />
    public override string ToString() => $"{Stage} {Subject} {Completed}/{Total}";
}
