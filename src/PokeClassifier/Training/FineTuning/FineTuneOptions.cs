using PokeClassifier.Training.Budget;
using PokeClassifier.Training.Custom;

namespace PokeClassifier.Training.FineTuning;

/// <summary>
/// What fine-tuning trains of the backbone and how: how many of its last blocks (or which node on), at what learning rate, at what
/// input size, with which augmentation, and whether the frozen part's activations are computed once and cached.
/// </summary>
/// <remarks>
/// <para>
/// The backbone runs as an imported graph (<c>docs/fine-tuning.md</c>): ONNX backbones are read and their weights become TorchSharp
/// parameters; TorchSharp backbones are written as the same kind of graph first. A <em>block</em> is a run of nodes between two
/// tensors that every path crosses and that holds at least one convolution (ResNet: the stem and each residual block; DenseNet: each
/// dense block and each transition convolution; VGG: each convolution).
/// </para>
/// <para>
/// Cost on a small CPU: the frozen part needs no gradients, and when images are not augmented its output never changes, so by
/// default (<see cref="CacheFrozenActivations"/>) it runs once per image and each epoch only runs the trained blocks.
/// Augmentation changes the input every epoch, so it needs the whole network every step (measured in <c>docs/fine-tuning.md</c>).
/// </para>
/// </remarks>
public sealed record FineTuneOptions
{
    /// <summary>Value of <see cref="UnfreezeLastBlocks"/> that trains the whole backbone.</summary>
    public const int AllBlocks = int.MaxValue;

    /// <summary>
    /// How many blocks, counted from the output, are trained; <see cref="AllBlocks"/> for the whole backbone; 0 for none (only the
    /// head trains, on the backbone's output at <see cref="InputSize"/>: the same-budget baseline of a fine-tuning run). Ignored when
    /// <see cref="UnfreezeFrom"/> is set.
    /// </summary>
    /// <value>The default is 2.</value>
    public int UnfreezeLastBlocks { get; init; } = 2;

    /// <summary>
    /// A node name, or the name of the tensor a node computes, from which on (in execution order) the backbone is trained; the nodes
    /// before it stay frozen. For torchvision-layout backbones nodes carry the module names (<c>layer4.0.conv1</c>,
    /// <c>features.denseblock4</c>); for ONNX files, the file's own names. <see langword="null"/> to count blocks instead.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? UnfreezeFrom { get; init; }

    /// <summary>The backbone's learning rate; <see langword="null"/> for the head's (<c>TrainingOptions.LearningRate</c>) times <see cref="BackboneLearningRateFactor"/>.</summary>
    /// <value>The default is <see langword="null"/> (head rate x 0.1).</value>
    public double? BackboneLearningRate { get; init; }

    /// <summary>
    /// The square input size used for fine-tuning and for the resulting classifier, a multiple of 32; <see langword="null"/> for the
    /// backbone's own size. Compute grows with its square: 128 costs a third of 224 (the Pokémon sprites are 128 x 128).
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public int? InputSize { get; init; }

    /// <summary>Augmentation of the training images; <see langword="null"/> for none.</summary>
    /// <value>The default is <see langword="null"/> (no augmentation, so the frozen activations can be cached).</value>
    public AugmentationOptions? Augmentation { get; init; }

    /// <summary>
    /// Progressive resizing of the training images (smaller inputs in the first epochs, the full <see cref="InputSize"/> later);
    /// <see langword="null"/> for none. Like augmentation, it trains through the whole network every step.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public ProgressiveResizingOptions? ProgressiveResizing { get; init; }

    /// <summary>
    /// Whether the frozen part's output is computed once per image and kept in memory, so that each epoch only runs the trained blocks.
    /// Only possible without augmentation and progressive resizing (with either, this is ignored) and when a single tensor crosses the cut (always at block boundaries).
    /// </summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool CacheFrozenActivations { get; init; } = true;

    /// <summary>
    /// With cached frozen activations (<see cref="CacheFrozenActivations"/>, no <see cref="Augmentation"/>): whether each training
    /// image's mirror image is computed once too, as a second view. Each step draws one of the two views per image, the augmentation
    /// cached activations allow; the resulting classifier scores the mean of both views' features (as
    /// <see cref="Features.FeaturizerOptions.FlipAveraging"/>). Doubles the frozen part's one-off cost and the activations' memory.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool MirrorViews { get; init; }

    /// <summary>
    /// Whether the trained blocks' batch norms normalise with each batch's statistics and update their running statistics. Off, they
    /// keep the ImageNet statistics (their scale and shift still train), which suits the small batches a CPU affords.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool UpdateBatchNormStatistics { get; init; }

    /// <summary>
    /// Epochs of training the head alone on the frozen backbone's features before the backbone is unfrozen (fastai's
    /// <c>fine_tune(freeze_epochs)</c>). A new head starts random: trained together with the backbone from the first step, its large
    /// early gradients flow into the pretrained weights and can wreck them. Its features are computed once (no augmentation), so
    /// these epochs cost one forward pass over the training images, then milliseconds each. 0 for none.
    /// </summary>
    /// <value>The default is 0 (the study's single phase); <see cref="Recommended"/> uses 20.</value>
    public int HeadWarmupEpochs { get; init; }

    /// <summary>The head's learning rate while it warms up alone.</summary>
    /// <value>The default is 0.01.</value>
    public double HeadWarmupLearningRate { get; init; } = 1e-2;

    /// <summary>
    /// The recommended fine-tuning on a CPU (<c>docs/recipes.md</c>): the whole backbone, at a twentieth of the head's learning rate,
    /// batch norms updating their statistics, a 20-epoch head warm-up on frozen features, augmentation with crops of 35-100 % of the
    /// image, flips and colour jitter, at 128 x 128 (pair it with <see cref="TrainingOptions"/> from <c>FineTuneTrainingOptions</c>).
    /// </summary>
    public static FineTuneOptions Recommended => new()
    {
        UnfreezeLastBlocks = AllBlocks,
        BackboneLearningRate = null,
        BackboneLearningRateFactor = 0.05,
        InputSize = 128,
        Augmentation = new AugmentationOptions { CropScaleMin = 0.35 },
        UpdateBatchNormStatistics = true,
        HeadWarmupEpochs = 20,
    };

    /// <summary>
    /// The recommended fine-tuning when time is short (<c>docs/recipes.md</c>), the one <see cref="TrainingBudget"/>s choose on a CPU:
    /// the last two blocks trained on the frozen part's activations, computed once per image and per mirror image
    /// (<see cref="MirrorViews"/>) at 256 x 256, the backbone at 0.3 times the head's rate, ImageNet batch-norm statistics kept, a
    /// 20-epoch head warm-up on the cached features. Pair it with <see cref="Custom.TrainingOptions.RecommendedCachedFineTune"/>.
    /// </summary>
    public static FineTuneOptions RecommendedCached => new()
    {
        UnfreezeLastBlocks = 2,
        InputSize = 256,
        MirrorViews = true,
        CacheFrozenActivations = true,
        BackboneLearningRateFactor = 0.3,
        UpdateBatchNormStatistics = false,
        HeadWarmupEpochs = 20,
    };

    /// <summary>
    /// The backbone's learning rate as a share of the head's, used when <see cref="BackboneLearningRate"/> is <see langword="null"/>.
    /// Adam moves every weight by about the learning rate each step whatever its gradient's size, so the pretrained weights need a
    /// much smaller rate than a new head: at 1e-3 they are destroyed within an epoch.
    /// </summary>
    /// <value>The default is 0.1.</value>
    public double BackboneLearningRateFactor { get; init; } = 0.1;

    /// <summary>Threads libtorch may use for one operator while fine-tuning (training runs one batch at a time).</summary>
    /// <value>The default is <see cref="Environment.ProcessorCount"/>.</value>
    public int Threads { get; init; } = Environment.ProcessorCount;

    /// <summary>Checks every option and throws one <see cref="ArgumentException"/> listing every problem.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        if (UnfreezeLastBlocks < 0)
        {
            errors.Add($"{nameof(UnfreezeLastBlocks)} must be 0 or more (was {UnfreezeLastBlocks}).");
        }

        if (UnfreezeFrom is { } from && string.IsNullOrWhiteSpace(from))
        {
            errors.Add($"{nameof(UnfreezeFrom)} must be null or a node name.");
        }

        if (BackboneLearningRate is { } rate && !(rate > 0 && double.IsFinite(rate)))
        {
            errors.Add($"{nameof(BackboneLearningRate)} must be positive (was {rate}).");
        }

        if (InputSize is { } size && (size < 32 || size % 32 != 0))
        {
            errors.Add($"{nameof(InputSize)} must be a multiple of 32 of at least 32 (was {size}).");
        }

        if (HeadWarmupEpochs < 0)
        {
            errors.Add($"{nameof(HeadWarmupEpochs)} must be 0 or more (was {HeadWarmupEpochs}).");
        }

        if (!(HeadWarmupLearningRate > 0 && double.IsFinite(HeadWarmupLearningRate)))
        {
            errors.Add($"{nameof(HeadWarmupLearningRate)} must be positive (was {HeadWarmupLearningRate}).");
        }

        if (!(BackboneLearningRateFactor > 0 && BackboneLearningRateFactor <= 1))
        {
            errors.Add($"{nameof(BackboneLearningRateFactor)} must be in (0, 1] (was {BackboneLearningRateFactor}).");
        }

        if (Threads < 1)
        {
            errors.Add($"{nameof(Threads)} must be at least 1 (was {Threads}).");
        }

        if (Augmentation is not null)
        {
            try
            {
                Augmentation.Validate();
            }
            catch (ArgumentException e)
            {
                errors.Add(e.Message);
            }
        }

        errors.AddRange(ProgressiveResizing?.Problems() ?? []);
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid fine-tuning options: " + string.Join(" ", errors));
        }
    }

    /// <inheritdoc />
    public override string ToString() =>
        (UnfreezeFrom is { } from ? $"from {from}" : UnfreezeLastBlocks == AllBlocks ? "whole backbone" : UnfreezeLastBlocks == 0 ? "backbone frozen" : $"last {UnfreezeLastBlocks} block{(UnfreezeLastBlocks == 1 ? string.Empty : "s")}") +
        (InputSize is { } s ? $", {s}px" : string.Empty) + (Augmentation is { IsEnabled: true } a ? ", augmented" + (a.Policy == AugmentationPolicy.TrivialAugment ? " (TrivialAugment)" : string.Empty) : string.Empty) + (ProgressiveResizing is null ? string.Empty : ", progressive resizing") + (MirrorViews ? ", mirror views" : string.Empty) +
        (HeadWarmupEpochs > 0 ? $", head warm-up {HeadWarmupEpochs}" : string.Empty) + (UpdateBatchNormStatistics ? ", batch-norm statistics" : string.Empty);
}
