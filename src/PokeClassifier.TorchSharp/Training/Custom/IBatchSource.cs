using static TorchSharp.torch;

namespace PokeClassifier.Training.Custom;

/// <summary>
/// Examples for <see cref="TorchTrainer"/>: a fixed list of labelled inputs from which the trainer asks for batches by index.
/// <see cref="FeatureBatchSource"/> serves cached backbone features; a fine-tuning source serves (augmented) images.
/// </summary>
internal interface IBatchSource
{
    /// <summary>The number of examples.</summary>
    int Count { get; }

    /// <summary>The class index of each example.</summary>
    IReadOnlyList<int> Labels { get; }

    /// <summary>
    /// The inputs of the examples at <paramref name="indices"/> as one new tensor [n, ...], in that order. Called inside the
    /// trainer's per-batch dispose scope, so the tensor (and anything made while building it) is freed with the batch.
    /// </summary>
    /// <param name="indices">Example indexes.</param>
    /// <param name="training">Whether the batch is for a training step (augment) or for validation (do not).</param>
    /// <param name="random">The run's seeded generator for augmentation; the trainer calls this on one thread, in a fixed order.</param>
    Tensor Inputs(IReadOnlyList<int> indices, bool training, Random random);
}
