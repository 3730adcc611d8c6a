using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PokeClassifier.Training;

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
