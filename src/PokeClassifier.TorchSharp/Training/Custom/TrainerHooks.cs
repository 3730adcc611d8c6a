using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PokeClassifier.Training.Custom;

/// <summary>Optional callbacks of <see cref="TorchTrainer"/>, all called on the training thread.</summary>
internal sealed class TrainerHooks
{
    /// <summary>Puts the model in training mode before each epoch; the default is <c>model.train()</c>. Fine-tuning can keep frozen batch norms in eval mode here.</summary>
    public Action<Module<Tensor, Tensor>>? EnterTraining { get; init; }

    /// <summary>Before each epoch, with the epoch (1-based) and every parameter group's learning rate for it, in group order.</summary>
    public Action<int, IReadOnlyList<double>>? EpochStarting { get; init; }

    /// <summary>After each epoch's validation and early-stopping bookkeeping, with the model as trained so far (for snapshots in tests).</summary>
    public Action<EpochRecord, Module<Tensor, Tensor>>? EpochEnded { get; init; }
}

/// <summary>What a run of <see cref="TorchTrainer"/> takes beside the model, the data, the options and the seed; every part optional.</summary>
internal sealed record TrainerContext
{
    /// <summary>Parameter groups with their own learning rates; <see langword="null"/> for one group of every parameter that requires a gradient, at <see cref="TrainingOptions.LearningRate"/>.</summary>
    public IReadOnlyList<ParameterGroup>? Groups { get; init; }

    /// <summary>Optional hooks (training mode, per-epoch observers).</summary>
    public TrainerHooks? Hooks { get; init; }

    /// <summary>libtorch's intra-op threads for the run (fine-tuning gives a convolutional backbone every core).</summary>
    /// <value>The default is 1.</value>
    public int Threads { get; init; } = 1;

    /// <summary>Reported after every batch, and once more after each epoch with the finished <see cref="EpochRecord"/>.</summary>
    public IProgress<TrainingProgress>? Progress { get; init; }

    /// <summary>Checked before every batch.</summary>
    public CancellationToken CancellationToken { get; init; }
}
