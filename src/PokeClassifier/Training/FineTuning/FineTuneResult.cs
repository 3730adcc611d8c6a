using PokeClassifier.Data;
using PokeClassifier.Training.Custom;

namespace PokeClassifier.Training.FineTuning;

/// <summary>What fine-tuning (<c>FineTuner.Train</c>, in the <c>PokeClassifier.TorchSharp</c> package) produced and what it cost.</summary>
internal sealed record FineTuneResult
{
    public required TrainedClassifier Classifier { get; init; }

    public required IReadOnlyList<SkippedFile> Skipped { get; init; }

    /// <summary>Importing the backbone, decoding the images and computing the frozen activations.</summary>
    public TimeSpan Preparation { get; init; }

    /// <summary>The training loop.</summary>
    public TimeSpan Training { get; init; }

    /// <summary>Activations (images times views) the frozen part computed (the rest came from the disk cache); 0 without caching.</summary>
    public int FrozenActivationsComputed { get; init; }

    /// <summary>Memory held by the cached frozen activations.</summary>
    public long FrozenActivationBytes { get; init; }

    /// <summary>Backbone parameters that were trained.</summary>
    public long TrainedParameters { get; init; }

    /// <summary>The head's warm-up on frozen features, when there was one.</summary>
    public TrainingSummary? HeadWarmup { get; init; }

    /// <summary>Whether the frozen activations were cached (no augmentation).</summary>
    public bool CachedActivations { get; init; }
}
