using System.Diagnostics;
using System.Globalization;
using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Onnx;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Data;
using PokeClassifier.Features;
using static TorchSharp.torch;

namespace PokeClassifier.Training;

/// <summary>
/// Turns a <see cref="TrainingBudget"/> into a recipe: measures forward + backward throughput of the backbone on this machine
/// (a few batches of random images), estimates each recipe's wall time from it, and picks the strongest that fits.
/// </summary>
internal static class BudgetPlanner
{
    /// <summary>
    /// Input sizes fine-tuning may use, smallest first. Not 128: on kaggle-visible three epochs at 128 px reached macro-F1 0.70, below
    /// the flip-averaged frozen recipe's 0.82 at 224 (docs/recipes.md); these images need the resolution.
    /// </summary>
    private static readonly int[] Sizes = [160, 192, 224];

    /// <summary>Fewest epochs of fine-tuning worth running; below this, the flip-averaged frozen recipe is stronger (docs/recipes.md).</summary>
    private const int MinimumEpochs = 8;

    /// <summary>Epochs a larger input size must still afford before it is chosen over more epochs at a smaller one.</summary>
    private const int EpochsBeforeGrowing = 10;

    /// <summary>Most epochs planned (the schedule's gains flatten beyond).</summary>
    private const int MaximumEpochs = 30;

    /// <summary>Share of the estimate kept back for what the estimate misses (shared machines, the first epoch's warm-up).</summary>
    private const double Margin = 0.12;

    public static async Task<BudgetPlan> PlanAsync(
        BackboneSpec backbone, int trainImages, int validationImages, int testImages, IReadOnlyList<DatasetItem> sample, FeaturizerOptions featurizer, TrainingBudget budget, TimeSpan spent, int threads, CancellationToken cancellationToken)
    {
        var perImage = await Task.Run(() => MeasureTrainSeconds(backbone, threads, cancellationToken), cancellationToken).ConfigureAwait(false);
        var featurizeSeconds = await MeasureFeaturizeSecondsAsync(backbone, sample, featurizer, cancellationToken).ConfigureAwait(false);
        double TrainSeconds(int size) => perImage * Math.Pow(size / 128.0, 2);

        // Inference through TorchSharp (the fine-tuning's evaluation) is about a third of forward + backward.
        double InferSeconds(int size) => TrainSeconds(size) / 3;
        var left = (budget.Time - spent).TotalSeconds * (1 - Margin);
        var all = trainImages + validationImages + testImages;
        var frozen = (all * featurizeSeconds) + 10;
        var flipped = (2 * all * featurizeSeconds) + 10;
        var measured = 1 / perImage;
        var rate = string.Create(CultureInfo.InvariantCulture, $"measured {measured:0.0} training images/s at 128 px and {1 / featurizeSeconds:0.0} featurized images/s");

        // Fine-tuning: decode + the head's warm-up features + epochs + per-epoch validation + flip-averaged test at the end.
        (int Size, int Epochs, double Seconds)? best = null;
        foreach (var size in Sizes)
        {
            var fixedCost = 15 + (trainImages * 0.004) + ((trainImages + validationImages) * InferSeconds(size)) + (2 * testImages * InferSeconds(size));
            var epochCost = (trainImages * TrainSeconds(size)) + (validationImages * InferSeconds(size));
            var epochs = (int)Math.Min(MaximumEpochs, Math.Floor((left - fixedCost) / epochCost));
            if (epochs < MinimumEpochs)
            {
                break;
            }

            if (best is null || epochs >= EpochsBeforeGrowing)
            {
                best = (size, epochs, fixedCost + (epochs * epochCost));
            }
        }

        if (best is { } plan)
        {
            var training = FineTuneTraining(plan.Epochs, TimeSpan.FromSeconds((budget.Time - spent).TotalSeconds - (2 * testImages * InferSeconds(plan.Size)) - 10));
            return new BudgetPlan
            {
                Budget = budget,
                Recipe = string.Create(CultureInfo.InvariantCulture, $"fine-tune the whole backbone at {plan.Size} px for {plan.Epochs} epochs (head warm-up, augmentation, flip-averaged test)"),
                Reason = string.Create(CultureInfo.InvariantCulture, $"{rate}; {plan.Epochs} epochs at {plan.Size} px fit in an estimated {plan.Seconds / 60:0.0} of the {left / 60:0.0} min left after a {Margin:P0} margin"),
                Head = HeadConfiguration.FineTune(CustomHeadOptions.GlobalAveragePoolDense(), training, FineTuneOptions.Recommended with { InputSize = plan.Size, Threads = threads }),
                FlipAveraging = true,
                MeasuredTrainImagesPerSecond = measured,
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
            MeasuredTrainImagesPerSecond = measured,
            Estimated = spent + TimeSpan.FromSeconds(flip ? flipped : frozen),
        };
    }

    /// <summary>The recommended loop of a fine-tuning run of <paramref name="epochs"/> epochs, stopped by <paramref name="limit"/> at the latest.</summary>
    public static TrainingOptions FineTuneTraining(int epochs, TimeSpan? limit = null)
    {
        return TrainingOptions.RecommendedFineTune with
        {
            Epochs = epochs,
            Schedule = LearningRateSchedule.WarmupCosine(Math.Min(0.1, 0.3 / epochs)),
            EarlyStopping = new EarlyStoppingOptions { Monitor = TrainingMetric.ValidationMacroF1, Patience = Math.Max(3, epochs) },
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

    /// <summary>Seconds per image of forward + backward through the whole backbone at 128 x 128, batch 16, on this machine.</summary>
    internal static double MeasureTrainSeconds(BackboneSpec backbone, int threads, CancellationToken cancellationToken)
    {
        TorchRuntime.EnsureInitialized(threads);
        var graph = BackboneGraph.For(backbone);
        using var module = OnnxTorchImporter.Import(graph.Model, graph.OutputName, graph.Source);
        module.SetTrainableFrom(0);
        module.train();
        const int Batch = 16;
        var watch = new Stopwatch();
        for (var step = 0; step < 3; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            if (step == 1)
            {
                watch.Start();
            }

            var output = module.call(randn(Batch, 3, 128, 128));
            output.mean().backward();
        }

        return watch.Elapsed.TotalSeconds / (2 * Batch);
    }
}
