using System.ComponentModel;
using System.Globalization;
using PokeClassifier.Features;
using PokeClassifier.Training.Budget;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.FineTuning;
using PokeClassifier.Training;
using Spectre.Console.Cli;

namespace PokeClassifier.Cli.Commands;

/// <summary>The training knobs of <c>train</c> and <c>compare</c>, and the time budget that chooses the recipe instead.</summary>
internal class TrainingSettings : DataSettings
{
    [CommandOption("--epochs <N>")]
    [Description("Epochs of a TorchSharp head or of fine-tuning (gap, dense256, mlp: 10; finetune: 8).")]
    public int? Epochs { get; init; }

    [CommandOption("--lr <RATE>")]
    [Description("The head's learning rate (gap, dense256, mlp: 0.001; finetune: 0.002, the backbone a twentieth of it).")]
    public double? LearningRate { get; init; }

    [CommandOption("--batch-size <N>")]
    [Description("Examples per optimisation step (32).")]
    public int? BatchSize { get; init; }

    [CommandOption("--input-size <PX>")]
    [Description("Fine-tuning's square input size, a multiple of 32 (finetune: 128).")]
    public int? InputSize { get; init; }

    [CommandOption("--augment <on|off|trivial>")]
    [Description("Fine-tuning's augmentation: random resized crops, flips, colour jitter (finetune: on); trivial (or on,trivial) adds TrivialAugment Wide, one random operation of random strength per image.")]
    public string? Augment { get; init; }

    [CommandOption("--unfreeze <N|all>")]
    [Description("How many of the backbone's last blocks fine-tuning trains (finetune: all).")]
    public string? Unfreeze { get; init; }

    [CommandOption("--label-smoothing <X>")]
    [Description("Label smoothing of the loss, 0 to below 1 (gap, dense256, mlp: 0; finetune: 0.1).")]
    public double? LabelSmoothing { get; init; }

    [CommandOption("--mixup <ALPHA>")]
    [Description("Mixup of each training batch, the mixing weight drawn from Beta(ALPHA, ALPHA); 0.2 is usual (TorchSharp heads, fine-tuning; default off).")]
    public double? Mixup { get; init; }

    [CommandOption("--cutmix <ALPHA>")]
    [Description("CutMix of each training batch (images or fine-tuning's activation maps), the kept area drawn from Beta(ALPHA, ALPHA); 1 is usual (default off).")]
    public double? CutMix { get; init; }

    [CommandOption("--progressive-resize")]
    [Description("Fine-tuning's first half of the epochs grows from half the input size to the full size (default off).")]
    public bool ProgressiveResize { get; init; }

    [CommandOption("--tta")]
    [Description("Flip-averaged features: each image's features are the mean of the image's and its mirror image's, for training and test images alike.")]
    public bool Tta { get; init; }

    [CommandOption("--multi-layer")]
    [Description("Multi-layer features: the backbone's output followed by the mean of its last stage's input (ResNet18: 768 values); not for DenseNet.")]
    public bool MultiLayer { get; init; }

    [CommandOption("--time-budget <TIME>")]
    [Description("Let the library choose the recipe that fits this wall time on this machine (e.g. 90s, 20m, 1.5h); replaces --head and the knobs.")]
    public string? TimeBudget { get; init; }

    [CommandOption("--preset <NAME>")]
    [Description("A named time budget: fast (5 min), balanced (20 min), best (60 min).")]
    public string? Preset { get; init; }

    /// <summary>The knobs set on the command line.</summary>
    public TrainingOverrides Overrides()
    {
        var augment = AugmentChoice();
        return new()
        {
            Device = ParsedDevice(),
            Epochs = Epochs,
            LearningRate = LearningRate,
            BatchSize = BatchSize,
            InputSize = InputSize,
            LabelSmoothing = LabelSmoothing,
            Mixing = Mixup is { } mixup ? MixingOptions.Mixup(mixup) : CutMix is { } cutMix ? MixingOptions.CutMix(cutMix) : null,
            ProgressiveResizing = ProgressiveResize ? new ProgressiveResizingOptions() : null,
            Augment = augment.On,
            AugmentPolicy = augment.Policy,
            UnfreezeLastBlocks = Unfreeze?.Trim().ToLowerInvariant() switch
            {
                null => null,
                "all" => FineTuneOptions.AllBlocks,
                var n when int.TryParse(n, NumberStyles.Integer, CultureInfo.InvariantCulture, out var blocks) && blocks >= 0 => blocks,
                _ => throw CliException.Usage($"--unfreeze '{Unfreeze}': use a number of blocks (0 or more) or all"),
            },
        };
    }

    /// <summary><c>--augment</c>: on, off or a policy, or on and a policy separated by a comma (<c>on,trivial</c>).</summary>
    private (bool? On, AugmentationPolicy? Policy) AugmentChoice()
    {
        if (Augment is null)
        {
            return (null, null);
        }

        bool? on = null;
        AugmentationPolicy? policy = null;
        foreach (var word in Augment.Split(',', StringSplitOptions.TrimEntries))
        {
            switch (word.ToLowerInvariant())
            {
                case "on" or "true" or "yes" or "default":
                    on = on is false ? throw Bad() : true;
                    break;
                case "off" or "false" or "no":
                    on = on is true || policy is not null ? throw Bad() : false;
                    break;
                case "trivial" or "trivialaugment":
                    policy = on is false ? throw Bad() : AugmentationPolicy.TrivialAugment;
                    break;
                default:
                    throw Bad();
            }
        }

        return (on ?? (policy is null ? null : true), policy);

        CliException Bad() => CliException.Usage($"--augment '{Augment}': use on, off or trivial (on,trivial is trivial; off takes no policy)");
    }

    /// <summary>The head with the knobs (and <paramref name="more"/>: checkpointing) applied, each checked at once.</summary>
    public HeadConfiguration Apply(HeadConfiguration head, TrainingOverrides? more = null)
    {
        HeadConfiguration tuned;
        try
        {
            var knobs = Overrides();
            if (more is not null)
            {
                knobs = knobs with { CheckpointPath = more.CheckpointPath, Resume = more.Resume };
            }

            tuned = head.WithOverrides(knobs);
        }
        catch (ArgumentException e)
        {
            throw CliException.Usage(e.Message);
        }

        var problems = tuned.Validate();
        return problems.Count > 0 ? throw CliException.Usage(string.Join(" ", problems)) : tuned;
    }

    /// <summary>The time budget asked for, if any.</summary>
    public TrainingBudget? Budget()
    {
        var text = TimeBudget ?? Preset;
        if (text is null)
        {
            return null;
        }

        try
        {
            return TrainingBudget.Parse(text);
        }
        catch (FormatException e)
        {
            throw CliException.Usage($"{(TimeBudget is null ? "--preset" : "--time-budget")}: {e.Message}");
        }
    }

    /// <summary>The featurizer's options, flip-averaged with <c>--tta</c>, multi-layer with <c>--multi-layer</c>.</summary>
    public FeaturizerOptions TrainingFeaturizerOptions(Action<string>? warning = null) => FeaturizerOptions(warning) with { FlipAveraging = Tta, MultiLayerFeatures = MultiLayer };

    public override Spectre.Console.ValidationResult Validate()
    {
        if (TimeBudget is not null && Preset is not null)
        {
            return Spectre.Console.ValidationResult.Error("--time-budget and --preset cannot be used together");
        }

        if (Preset is { } preset && preset.Trim().ToLowerInvariant() is not ("fast" or "balanced" or "best"))
        {
            return Spectre.Console.ValidationResult.Error($"--preset '{preset}': use fast, balanced or best");
        }

        if (Mixup is not null && CutMix is not null)
        {
            return Spectre.Console.ValidationResult.Error("--mixup and --cutmix cannot be used together: choose one");
        }

        if ((TimeBudget ?? Preset) is not null && (Epochs ?? BatchSize ?? InputSize) is not null | LearningRate is not null | LabelSmoothing is not null | Augment is not null | Unfreeze is not null | Tta
            | Mixup is not null | CutMix is not null | ProgressiveResize)
        {
            return Spectre.Console.ValidationResult.Error("--time-budget/--preset choose the recipe: leave out --epochs, --lr, --batch-size, --input-size, --augment, --unfreeze, --label-smoothing, --mixup, --cutmix, --progressive-resize and --tta");
        }

        return base.Validate();
    }
}
