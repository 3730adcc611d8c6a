using System.Diagnostics;
using System.Globalization;
using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Onnx;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Data;
using PokeClassifier.Features;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.FineTuning;
using static TorchSharp.torch;

namespace PokeClassifier.Training.Budget;

/// <summary>
/// Turns a <see cref="TrainingBudget"/> into a recipe: measures this machine's featurizer throughput (ONNX Runtime, a few of the
/// user's images) and forward + backward throughput of the trained blocks of each fine-tuning candidate (TorchSharp, random
/// activations), estimates each recipe's wall time from them, and picks the strongest that fits.
/// </summary>
/// <remarks>
/// The fine-tuning candidates are <see cref="FineTuneOptions.RecommendedCached"/> at growing input sizes: on a CPU, training the
/// last blocks on cached activations with mirror views reached macro-F1 0.89 on kaggle-visible in 3 epochs, where whole-backbone
/// fine-tuning at 224 px reached 0.79 in 2 epochs of three times the cost (docs/recipes.md).
/// </remarks>
internal static class BudgetPlanner
{
    /// <summary>
    /// Input sizes of the cached fine-tuning, smallest first. Not 320: on kaggle-visible it gained 0.003 macro-F1 over 288 (0.912
    /// against 0.909) for a peak of 5.4 GB against 4.3 (docs/recipes.md).
    /// </summary>
    private static readonly int[] Sizes = [224, 256, 288];

    /// <summary>Fewest epochs of fine-tuning worth running; below this, the flip-averaged frozen recipe is chosen.</summary>
    internal const int MinimumEpochs = 3;

    /// <summary>Epochs a larger input size must still afford before it is chosen over more epochs at a smaller one.</summary>
    internal const int EpochsBeforeGrowing = 8;

    /// <summary>
    /// Most epochs planned. With the weights averaged over the second half of a cosine schedule, longer runs keep gaining: on
    /// kaggle-visible at 160 px, 20 epochs reached macro-F1 0.886 where 10 reached 0.858 (docs/recipes.md).
    /// </summary>
    internal const int MaximumEpochs = 30;

    /// <summary>
    /// Seconds a fine-tuning run spends whatever the data: importing the backbone graph, writing the frozen part and the fine-tuned
    /// backbone as ONNX and opening their sessions, snapshots of the best weights.
    /// </summary>
    private const double FineTuneOverheadSeconds = 35;

    /// <summary>Share of the estimate kept back for what the estimate misses (shared machines, the first epoch's warm-up).</summary>
    private const double Margin = 0.12;

    public static async Task<BudgetPlan> PlanAsync(
        BackboneSpec backbone, int trainImages, int validationImages, int testImages, IReadOnlyList<DatasetItem> sample, FeaturizerOptions featurizer, TrainingBudget budget, TimeSpan spent, int threads, CancellationToken cancellationToken)
    {
        var recipe = FineTuneOptions.RecommendedCached;
        var trainSeconds = await Task.Run(() => MeasureTrainedBlocksSeconds(backbone, recipe.UnfreezeLastBlocks, Sizes, threads, cancellationToken), cancellationToken).ConfigureAwait(false);
        var featurizeSeconds = await MeasureFeaturizeSecondsAsync(backbone, sample, featurizer, cancellationToken).ConfigureAwait(false);
        double Featurize(int size) => featurizeSeconds * Math.Pow(size / (double)backbone.InputWidth, 2);

        var left = (budget.Time - spent).TotalSeconds * (1 - Margin);
        var all = trainImages + validationImages + testImages;
        var frozen = (all * featurizeSeconds) + 10;
        var flipped = (2 * all * featurizeSeconds) + 10;
        var rate = string.Create(CultureInfo.InvariantCulture, $"measured {1 / featurizeSeconds:0.0} featurized images/s and {1 / trainSeconds[Sizes[0]]:0.0} training images/s of the last blocks at {Sizes[0]} px");

        // Cached fine-tuning: decode, the frozen part over every image and mirror image (ONNX Runtime, bounded by a whole forward
        // pass), the head's warm-up features (the trained blocks forward), epochs with per-epoch validation, a flip-averaged test.
        var candidates = Sizes.Select(size =>
        {
            var forward = trainSeconds[size] / 3;
            var views = (2 * trainImages) + validationImages;
            var fixedCost = FineTuneOverheadSeconds + ((trainImages + validationImages) * 0.004) + (views * Featurize(size)) + (views * forward) + (2 * testImages * Featurize(size));
            var epochCost = (trainImages * trainSeconds[size]) + (validationImages * forward);
            return (size, fixedCost, epochCost);
        }).ToArray();

        if (Choose(left, candidates) is { } plan)
        {
            var training = CachedFineTuneTraining(plan.Epochs, TimeSpan.FromSeconds((budget.Time - spent).TotalSeconds - (2 * testImages * Featurize(plan.Size)) - 10));
            return new BudgetPlan
            {
                Budget = budget,
                Recipe = string.Create(CultureInfo.InvariantCulture, $"fine-tune the last {recipe.UnfreezeLastBlocks} blocks on cached activations with mirror views at {plan.Size} px for {plan.Epochs} epochs (head warm-up, flip-averaged test)"),
                Reason = string.Create(CultureInfo.InvariantCulture, $"{rate}; {plan.Epochs} epochs at {plan.Size} px fit in an estimated {plan.Seconds / 60:0.0} of the {left / 60:0.0} min left after a {Margin:P0} margin"),
                Head = HeadConfiguration.FineTune(CustomHeadOptions.GlobalAveragePoolDense(), training, recipe with { InputSize = plan.Size, Threads = threads }),
                FlipAveraging = true,
                MeasuredTrainImagesPerSecond = 1 / trainSeconds[plan.Size],
                Estimated = spent + TimeSpan.FromSeconds(plan.Seconds),
            };
        }

        var flip = flipped <= left;
        return new BudgetPlan
        {
            Budget = budget,
            Recipe = flip ? "frozen backbone, flip-averaged features, ML.NET L-BFGS head with its L2 chosen on a validation split" : "frozen backbone, ML.NET L-BFGS head with its L2 chosen on a validation split",
            Reason = string.Create(CultureInfo.InvariantCulture, $"{rate}; fewer than {MinimumEpochs} fine-tuning epochs fit in the {left / 60:0.0} min left; {(flip ? $"flip-averaged features fit ({flipped / 60:0.0} min)" : $"flip-averaged features would not ({flipped / 60:0.0} min)")}"),
            Head = HeadConfiguration.MLNet(new MLNetHeadOptions { ChooseL2OnValidation = true }),
            FlipAveraging = flip,
            MeasuredTrainImagesPerSecond = 1 / trainSeconds[Sizes[0]],
            Estimated = spent + TimeSpan.FromSeconds(flip ? flipped : frozen),
        };
    }

    /// <summary>
    /// The cached fine-tuning that fits: the largest input size that still affords <see cref="EpochsBeforeGrowing"/> epochs (or the
    /// smallest, if it affords at least <see cref="MinimumEpochs"/>), with as many epochs as fit, up to <see cref="MaximumEpochs"/>;
    /// <see langword="null"/> when not even the smallest size affords <see cref="MinimumEpochs"/>.
    /// </summary>
    /// <param name="seconds">The seconds left for the run.</param>
    /// <param name="candidates">Each input size (smallest first) with its one-off cost and its cost per epoch, in seconds.</param>
    internal static (int Size, int Epochs, double Seconds)? Choose(double seconds, IReadOnlyList<(int Size, double FixedCost, double EpochCost)> candidates)
    {
        (int Size, int Epochs, double Seconds)? best = null;
        foreach (var (size, fixedCost, epochCost) in candidates)
        {
            var epochs = (int)Math.Min(MaximumEpochs, Math.Floor((seconds - fixedCost) / epochCost));
            if (epochs < MinimumEpochs)
            {
                break;
            }

            if (best is null || epochs >= EpochsBeforeGrowing)
            {
                best = (size, epochs, fixedCost + (epochs * epochCost));
            }
        }

        return best;
    }

    /// <summary>The loop of a cached fine-tuning run of <paramref name="epochs"/> epochs, stopped by <paramref name="limit"/> at the latest.</summary>
    public static TrainingOptions CachedFineTuneTraining(int epochs, TimeSpan? limit = null)
    {
        return TrainingOptions.RecommendedCachedFineTune with
        {
            Epochs = epochs,
            Schedule = LearningRateSchedule.WarmupCosine(Math.Min(0.2, 0.5 / epochs)),
            TimeLimit = limit is { } l && l > TimeSpan.Zero ? l : null,
        };
    }

    /// <summary>Wall seconds per image of the featurizer (decoding and inference, its parallel sessions), on a few of the user's images, uncached.</summary>
    internal static async Task<double> MeasureFeaturizeSecondsAsync(BackboneSpec backbone, IReadOnlyList<DatasetItem> sample, FeaturizerOptions options, CancellationToken cancellationToken)
    {
        using var featurizer = new ImageFeaturizer(backbone, options with { UseCache = false, FlipAveraging = false });
        var warmup = sample.Take(Math.Max(1, options.Parallelism)).ToArray();
        await featurizer.FeaturizeAsync(warmup, null, cancellationToken).ConfigureAwait(false);
        var timed = sample.Skip(warmup.Length).Take(8 * Math.Max(1, options.Parallelism)).ToArray();
        if (timed.Length == 0)
        {
            timed = warmup;
        }

        var watch = Stopwatch.StartNew();
        await featurizer.FeaturizeAsync(timed, null, cancellationToken).ConfigureAwait(false);
        return Math.Max(watch.Elapsed.TotalSeconds / timed.Length, 1e-4);
    }

    /// <summary>
    /// Seconds per image of forward + backward through the last <paramref name="blocks"/> blocks of the backbone (batch 32, from random
    /// activations of the shape that crosses the cut) at each of <paramref name="sizes"/>, on this machine with <paramref name="threads"/> threads.
    /// </summary>
    internal static Dictionary<int, double> MeasureTrainedBlocksSeconds(BackboneSpec backbone, int blocks, IReadOnlyList<int> sizes, int threads, CancellationToken cancellationToken)
    {
        TorchRuntime.EnsureInitialized(threads);
        var graph = BackboneGraph.For(backbone);
        using var module = OnnxTorchImporter.Import(graph.Model, graph.OutputName, graph.Source);
        var cut = module.Blocks[Math.Max(0, module.Blocks.Count - blocks)].Start;
        var frontier = module.Frontier(cut).Single();
        module.SetTrainableFrom(cut);
        module.eval();
        const int Batch = 32;
        var seconds = new Dictionary<int, double>();
        foreach (var size in sizes)
        {
            long[] shape;
            using (NewDisposeScope())
            using (no_grad())
            {
                shape = module.RunPrefix(zeros(1, 3, size, size), cut)[frontier].shape[1..];
            }

            var watch = new Stopwatch();
            for (var step = 0; step < 3; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                if (step == 1)
                {
                    watch.Start();
                }

                var output = module.RunSuffix(new Dictionary<string, Tensor>(StringComparer.Ordinal) { [frontier] = randn([Batch, .. shape]) }, cut);
                output.mean().backward();
            }

            seconds[size] = watch.Elapsed.TotalSeconds / (2 * Batch);
        }

        return seconds;
    }
}
