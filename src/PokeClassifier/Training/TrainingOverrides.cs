using System.Globalization;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.FineTuning;

namespace PokeClassifier.Training;

/// <summary>
/// The knobs users of Keras and fastai reach for, applied over a head configuration's own values (<see cref="HeadConfiguration.WithOverrides"/>);
/// each left <see langword="null"/> keeps the configuration's value. Each configuration takes the knobs that mean something for it and
/// rejects the others with a clear error (an ML.NET head has no epochs; only fine-tuning has an input size).
/// </summary>
public sealed record TrainingOverrides
{
    /// <summary>Epochs (TorchSharp heads, fine-tuning).</summary>
    public int? Epochs { get; init; }

    /// <summary>The head's learning rate (TorchSharp heads, fine-tuning; the backbone's follows as its share).</summary>
    public double? LearningRate { get; init; }

    /// <summary>Examples per step (TorchSharp heads, fine-tuning).</summary>
    public int? BatchSize { get; init; }

    /// <summary>Label smoothing (TorchSharp heads, fine-tuning).</summary>
    public double? LabelSmoothing { get; init; }

    /// <summary>The square input size of fine-tuning, a multiple of 32.</summary>
    public int? InputSize { get; init; }

    /// <summary>Whether fine-tuning augments its training images (<see langword="true"/>: the configuration's augmentation, or the defaults if it has none).</summary>
    public bool? Augment { get; init; }

    /// <summary>
    /// The policy of fine-tuning's augmentation (<see cref="AugmentationOptions.Policy"/>); setting it turns the augmentation on (the
    /// configuration's, or the defaults if it has none) unless <see cref="Augment"/> is <see langword="false"/>, which is an error.
    /// </summary>
    public AugmentationPolicy? AugmentPolicy { get; init; }

    /// <summary>How many of the backbone's last blocks fine-tuning trains (<see cref="FineTuneOptions.AllBlocks"/> for all).</summary>
    public int? UnfreezeLastBlocks { get; init; }

    /// <summary>Mixup or CutMix of the training batches (<see cref="TrainingOptions.Mixing"/>; TorchSharp heads, fine-tuning).</summary>
    public MixingOptions? Mixing { get; init; }

    /// <summary>Progressive resizing of fine-tuning's training images (<see cref="FineTuneOptions.ProgressiveResizing"/>).</summary>
    public ProgressiveResizingOptions? ProgressiveResizing { get; init; }

    /// <summary>A checkpoint file written after every epoch (<see cref="TrainingOptions.CheckpointPath"/>; TorchSharp heads, fine-tuning).</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Whether to continue from <see cref="CheckpointPath"/> (<see cref="TrainingOptions.Resume"/>; TorchSharp heads, fine-tuning).</summary>
    public bool? Resume { get; init; }

    /// <summary>
    /// Where the TorchSharp heads and fine-tuning train (<see cref="TrainingOptions.Device"/>); the ML.NET heads fit on the CPU and
    /// ignore it, so it is not a knob they reject.
    /// </summary>
    public ComputeDevice? Device { get; init; }

    /// <summary>Whether no knob is set.</summary>
    public bool IsEmpty => this == new TrainingOverrides();

    /// <summary>The knobs that are set, by their command-line names (for messages).</summary>
    public IReadOnlyList<string> Set() =>
        new (string Name, bool IsSet)[]
        {
            ("--epochs", Epochs is not null), ("--lr", LearningRate is not null), ("--batch-size", BatchSize is not null), ("--label-smoothing", LabelSmoothing is not null),
            ("--input-size", InputSize is not null), ("--augment", Augment is not null || AugmentPolicy is not null), ("--unfreeze", UnfreezeLastBlocks is not null),
            (Mixing?.Kind == MixingKind.CutMix ? "--cutmix" : "--mixup", Mixing is not null), ("--progressive-resize", ProgressiveResizing is not null),
            ("--checkpoint", CheckpointPath is not null), ("--resume", Resume is not null),
        }.Where(k => k.IsSet).Select(k => k.Name).ToArray();

    /// <summary>The training loop with the loop's knobs applied.</summary>
    internal TrainingOptions Apply(TrainingOptions training) => training with
    {
        Epochs = Epochs ?? training.Epochs,
        LearningRate = LearningRate ?? training.LearningRate,
        BatchSize = BatchSize ?? training.BatchSize,
        LabelSmoothing = LabelSmoothing ?? training.LabelSmoothing,
        Mixing = Mixing ?? training.Mixing,
        CheckpointPath = CheckpointPath ?? training.CheckpointPath,
        Resume = Resume ?? training.Resume,
        Device = Device ?? training.Device,
    };

    /// <summary>The fine-tuning options with the fine-tuning knobs applied.</summary>
    internal FineTuneOptions Apply(FineTuneOptions fineTune) => fineTune with
    {
        InputSize = InputSize ?? fineTune.InputSize,
        Augmentation = (Augment, AugmentPolicy) switch
        {
            (false, not null) => throw new ArgumentException($"--augment: an augmentation policy ({AugmentPolicy}) needs the augmentation on."),
            (_, { } policy) => (fineTune.Augmentation ?? AugmentationOptions.Default) with { Policy = policy },
            (true, null) => fineTune.Augmentation ?? AugmentationOptions.Default,
            (false, null) => null,
            (null, null) => fineTune.Augmentation,
        },
        UnfreezeLastBlocks = UnfreezeLastBlocks ?? fineTune.UnfreezeLastBlocks,
        UnfreezeFrom = UnfreezeLastBlocks is null ? fineTune.UnfreezeFrom : null,
        ProgressiveResizing = ProgressiveResizing ?? fineTune.ProgressiveResizing,
    };

    /// <summary>An error naming the knobs that <paramref name="configuration"/> does not take.</summary>
    internal static ArgumentException NotFor(string configuration, IEnumerable<string> knobs, string takenBy) =>
        new(string.Create(CultureInfo.InvariantCulture, $"{string.Join(", ", knobs)} {(knobs.Count() == 1 ? "does" : "do")} not apply to {configuration}: {takenBy}."));
}
