using PokeClassifier.Experiments;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.FineTuning;

namespace PokeClassifier.Training;

/// <summary>
/// What is trained on top of a backbone in an <see cref="Experiment"/>: the training path (ML.NET, or a TorchSharp head trained
/// with the study's loop) and its options. A closed hierarchy: create instances with the static factories or the derived
/// types' constructors; new paths are added as new derived types without changing the existing ones.
/// </summary>
public abstract record HeadConfiguration
{
    private protected HeadConfiguration()
    {
    }

    /// <summary>The training path, for reports (for example <c>ML.NET</c>).</summary>
    public abstract string TrainingPath { get; }

    /// <summary>Whether the backbone's own weights are trained too (fine-tuning), rather than only the head on frozen features.</summary>
    /// <value><see langword="false"/> for the ML.NET path, which trains on cached, frozen features.</value>
    public virtual bool FineTunesBackbone => false;

    /// <summary>A short description of the head for reports, such as <c>ML.NET LbfgsMaximumEntropy</c>.</summary>
    public abstract string Description { get; }

    /// <summary>An ML.NET multiclass head on frozen backbone features, with default options for <paramref name="trainer"/>.</summary>
    public static MLNetHeadConfiguration MLNet(MLNetTrainer trainer = MLNetTrainer.LbfgsMaximumEntropy) => new(new MLNetHeadOptions { Trainer = trainer });

    /// <summary>An ML.NET multiclass head on frozen backbone features, with explicit options.</summary>
    public static MLNetHeadConfiguration MLNet(MLNetHeadOptions options) => new(options);

    /// <summary>
    /// A head trained through TorchSharp on frozen (cached) backbone features: one of the study's heads or an MLP, with the study's
    /// training loop (Adam, a learning rate reduced every epoch, early stopping); <see langword="null"/> options take the defaults.
    /// </summary>
    public static CustomHeadConfiguration Custom(CustomHeadOptions? head = null, TrainingOptions? training = null) => new(head ?? new CustomHeadOptions(), training ?? new TrainingOptions());

    /// <summary>
    /// Fine-tuning: the last blocks of the backbone (<see cref="FineTuneOptions"/>) trained together with a TorchSharp head, the
    /// backbone at a lower learning rate, with the study's training loop; <see langword="null"/> options take the defaults (the last
    /// two blocks, a tenth of the head's rate, cached frozen activations, no augmentation).
    /// </summary>
    public static FineTuneHeadConfiguration FineTune(CustomHeadOptions? head = null, TrainingOptions? training = null, FineTuneOptions? fineTune = null) =>
        new(head ?? new CustomHeadOptions(), training ?? new TrainingOptions(), fineTune ?? new FineTuneOptions());

    /// <summary>Checks the options and returns every problem found (empty when valid).</summary>
    public abstract IReadOnlyList<string> Validate();

    /// <summary>This configuration with the knobs of <paramref name="knobs"/> applied (those left unset keep their values).</summary>
    /// <exception cref="ArgumentException">A knob that this kind of head does not take is set.</exception>
    public abstract HeadConfiguration WithOverrides(TrainingOverrides knobs);

    /// <summary>The trainer of this kind of head (what it needs, how it trains).</summary>
    internal abstract HeadTrainer CreateTrainer();

    /// <inheritdoc />
    public override string ToString() => Description;
}

/// <summary>The ML.NET transfer path: an ML.NET multiclass trainer fitted on cached, frozen backbone features.</summary>
public sealed record MLNetHeadConfiguration : HeadConfiguration
{
    /// <summary>Creates the configuration.</summary>
    /// <param name="options">The trainer and its options.</param>
    public MLNetHeadConfiguration(MLNetHeadOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
    }

    /// <summary>The trainer and its options.</summary>
    public MLNetHeadOptions Options { get; }

    /// <inheritdoc />
    public override string TrainingPath => "ML.NET";

    /// <inheritdoc />
    internal override HeadTrainer CreateTrainer() => new MLNetHeadTrainer(Options);

    /// <inheritdoc />
    public override string Description => $"ML.NET {Options.Trainer}{(Options.ChooseL2OnValidation ? " (L2 chosen on validation)" : string.Empty)}";

    /// <inheritdoc />
    public override HeadConfiguration WithOverrides(TrainingOverrides knobs)
    {
        ArgumentNullException.ThrowIfNull(knobs);
        return (knobs with { Device = null }).IsEmpty ? this : throw TrainingOverrides.NotFor(Description, knobs.Set(), "an ML.NET head is fitted in one call on the frozen features; they apply to the TorchSharp heads and to fine-tuning");
    }

    /// <inheritdoc />
    public override IReadOnlyList<string> Validate()
    {
        try
        {
            Options.Validate();
            return [];
        }
        catch (ArgumentException e)
        {
            return [e.Message];
        }
    }

    /// <inheritdoc />
    public override string ToString() => Description;
}
