using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PokeClassifier.Training.Custom;

/// <summary><see cref="TrainingState"/>'s network and optimizer with their TorchSharp types (the state lives in the library, which has no TorchSharp).</summary>
internal static class TrainingStateTorch
{
    /// <summary>The network the loop trains.</summary>
    public static Module<Tensor, Tensor> Network(this TrainingState state) => (Module<Tensor, Tensor>)state.Model;

    /// <summary>The loop's optimizer.</summary>
    public static AdamOptimizer Adam(this TrainingState state) => (AdamOptimizer)state.Optimizer;
}
