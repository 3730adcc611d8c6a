using Parameter = TorchSharp.Modules.Parameter;

namespace PokeClassifier.Training.Custom;

/// <summary>
/// Parameters that Adam updates with their own initial learning rate (and optionally weight decay), for example a backbone at
/// 1e-5 and a new head at 1e-3 when fine-tuning. The schedule and reduce-on-plateau scale every group's rate by the same factor.
/// </summary>
/// <param name="Name">For messages and the history (for example <c>backbone</c>, <c>head</c>).</param>
/// <param name="Parameters">The parameters; the module's trainable parameters should each be in exactly one group.</param>
/// <param name="LearningRate">The group's initial learning rate.</param>
/// <param name="WeightDecay">The group's L2 penalty; <see langword="null"/> for <see cref="TrainingOptions.WeightDecay"/>.</param>
internal sealed record ParameterGroup(string Name, IReadOnlyList<Parameter> Parameters, double LearningRate, double? WeightDecay = null)
{
    /// <summary>The one group of a run that names none: every trainable parameter of <paramref name="model"/>, at <paramref name="learningRate"/>.</summary>
    public static ParameterGroup AllTrainable(TorchSharp.torch.nn.Module model, double learningRate) =>
        new("all", model.parameters().Where(p => p.requires_grad).ToArray(), learningRate);
}
