namespace PokeClassifier.Training.Custom;

/// <summary>
/// The TorchSharp transfer path: a head (<see cref="CustomHeadOptions"/>) trained on cached, frozen backbone features with the
/// study's training loop (<see cref="TrainingOptions"/>). Comparing heads or re-running costs seconds, not a new featurization.
/// </summary>
public sealed record CustomHeadConfiguration : HeadConfiguration
{
    /// <summary>Creates the configuration.</summary>
    /// <param name="head">The head's architecture.</param>
    /// <param name="training">The training loop's options.</param>
    public CustomHeadConfiguration(CustomHeadOptions head, TrainingOptions training)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(training);
        Head = head;
        Training = training;
    }

    /// <summary>The head's architecture.</summary>
    public CustomHeadOptions Head { get; }

    /// <summary>The training loop's options.</summary>
    public TrainingOptions Training { get; }

    /// <inheritdoc />
    public override string TrainingPath => TorchSharpPackage.HeadKind;

    /// <inheritdoc />
    public override string Description => $"{TorchSharpPackage.HeadKind} {Head.Describe()}";

    /// <inheritdoc />
    public override IReadOnlyList<string> Validate() => [.. Head.Problems(), .. Training.Problems()];

    internal override HeadTrainer CreateTrainer() => TorchSharpPackage.Require($"The TorchSharp head ({Description})").CreateTrainer(this);

    /// <inheritdoc />
    public override HeadConfiguration WithOverrides(TrainingOverrides knobs)
    {
        ArgumentNullException.ThrowIfNull(knobs);
        var fineTuneOnly = knobs.Set().Where(k => k is "--input-size" or "--augment" or "--unfreeze" or "--progressive-resize").ToArray();
        return fineTuneOnly.Length > 0
            ? throw TrainingOverrides.NotFor(Description, fineTuneOnly, "this head trains on cached features of the frozen backbone; they apply to fine-tuning")
            : new CustomHeadConfiguration(Head, knobs.Apply(Training));
    }

    /// <inheritdoc />
    public override string ToString() => Description;
}
