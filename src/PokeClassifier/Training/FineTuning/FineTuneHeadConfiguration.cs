using PokeClassifier.Training.Custom;

namespace PokeClassifier.Training.FineTuning;

/// <summary>
/// Fine-tuning: a TorchSharp head (<see cref="CustomHeadOptions"/>) trained together with the last blocks of the backbone
/// (<see cref="FineTuneOptions"/>), the backbone at a lower learning rate, with the study's training loop (<see cref="TrainingOptions"/>).
/// Works with ONNX backbones (their weights are imported into TorchSharp; the offline ResNet18 among them) and with TorchSharp ones.
/// The trained classifier runs its fine-tuned backbone through ONNX Runtime like any other backbone, and exports to ONNX.
/// </summary>
public sealed record FineTuneHeadConfiguration : HeadConfiguration
{
    /// <summary>Creates the configuration.</summary>
    /// <param name="head">The head's architecture.</param>
    /// <param name="training">The training loop's options (the head's learning rate is <see cref="TrainingOptions.LearningRate"/>).</param>
    /// <param name="fineTune">What of the backbone trains and how.</param>
    public FineTuneHeadConfiguration(CustomHeadOptions head, TrainingOptions training, FineTuneOptions fineTune)
    {
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(training);
        ArgumentNullException.ThrowIfNull(fineTune);
        Head = head;
        Training = training;
        FineTuning = fineTune;
    }

    /// <summary>The head's architecture.</summary>
    public CustomHeadOptions Head { get; }

    /// <summary>The training loop's options.</summary>
    public TrainingOptions Training { get; }

    /// <summary>What of the backbone trains and how.</summary>
    public FineTuneOptions FineTuning { get; }

    /// <inheritdoc />
    public override string TrainingPath => "TorchSharp fine-tuning";

    /// <inheritdoc />
    /// <value><see langword="true"/>.</value>
    public override bool FineTunesBackbone => true;

    /// <inheritdoc />
    public override string Description => $"{TorchSharpPackage.HeadKind} {Head.Describe()}, fine-tuned ({FineTuning})";

    /// <inheritdoc />
    public override IReadOnlyList<string> Validate()
    {
        var problems = new List<string>(Head.Problems());
        problems.AddRange(Training.Problems());
        try
        {
            FineTuning.Validate();
        }
        catch (ArgumentException e)
        {
            problems.Add(e.Message);
        }

        return problems;
    }

    internal override HeadTrainer CreateTrainer() => TorchSharpPackage.Require($"Fine-tuning ({Description})").CreateTrainer(this);

    /// <inheritdoc />
    public override HeadConfiguration WithOverrides(TrainingOverrides knobs)
    {
        ArgumentNullException.ThrowIfNull(knobs);
        return new FineTuneHeadConfiguration(Head, knobs.Apply(Training), knobs.Apply(FineTuning));
    }

    /// <inheritdoc />
    public override string ToString() => Description;
}
