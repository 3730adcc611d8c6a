using System.Diagnostics;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Experiments;
using PokeClassifier.Features;
using PokeClassifier.Pipeline;
using PokeClassifier.Training.Budget;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.FineTuning;
using PokeClassifier.Training.LearningRate;
using PokeClassifier.Training;

namespace PokeClassifier;

/// <summary>
/// Fluent configuration of a run: dataset, split, backbone, head, cache. Each <c>With*</c> returns a new builder, so a builder can be
/// shared and branched. <see cref="RunAsync"/> validates everything, then loads, splits, featurizes, trains and evaluates.
/// </summary>
public sealed record ClassificationBuilder
{
    internal ClassificationBuilder(string? source, ImageDataset? dataset)
    {
        Source = source;
        Dataset = dataset;
    }

    internal string? Source { get; init; }

    internal bool IsManifest { get; init; }

    internal ImageDataset? Dataset { get; init; }

    internal SplitOptions SplitOptions { get; init; } = new();

    internal DatasetSplit? FixedSplit { get; init; }

    internal string? SplitFile { get; init; }

    internal Func<BackboneSpec> Backbone { get; init; } = () => BackboneSpec.ResNet18;

    internal string? WeightsPath { get; init; }

    internal WeightStoreOptions? WeightStore { get; init; }

    internal HeadConfiguration Head { get; init; } = HeadConfiguration.MLNet();

    internal FeaturizerOptions Featurizer { get; init; } = new();

    internal DatasetLoadOptions LoadOptions { get; init; } = new();

    internal TrainingBudget? Budget { get; init; }

    /// <summary>Split by fractions (stratified; group-aware whenever the dataset has groups).</summary>
    public ClassificationBuilder WithSplit(SplitOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return this with { SplitOptions = options, FixedSplit = null, SplitFile = null };
    }

    /// <summary>Use a split made beforehand.</summary>
    public ClassificationBuilder WithSplit(DatasetSplit split)
    {
        ArgumentNullException.ThrowIfNull(split);
        return this with { FixedSplit = split, SplitFile = null };
    }

    /// <summary>Use a split file (<c>path,split</c> CSV, see <see cref="DatasetSplit.FromFile"/>).</summary>
    public ClassificationBuilder WithSplitFile(string splitCsvPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(splitCsvPath);
        return this with { SplitFile = splitCsvPath, FixedSplit = null };
    }

    /// <summary>
    /// The backbone (the default is <see cref="BackboneSpec.ResNet18"/>) and where its weights come from. Before featurizing, the
    /// run resolves the weights with a <see cref="WeightStore"/>: <paramref name="weightsPath"/> (or the spec's own
    /// <see cref="BackboneSpec.ModelPath"/>) verified against the spec's checksums, else the weight cache, else a download from the
    /// spec's URL (reported as <see cref="ClassificationStage.DownloadingWeights"/>). Missing weights fail the run with a
    /// <see cref="WeightsUnavailableException"/> that says how to get them (for ONNX specs: the export command).
    /// </summary>
    /// <param name="backbone">A catalog spec (<see cref="BackboneSpec.DenseNet201Onnx"/>, <see cref="BackboneSpec.VGG16Onnx"/>, <see cref="BackboneSpec.ResNet18"/>, ...) or <see cref="BackboneSpec.FromOnnx"/>.</param>
    /// <param name="weightsPath">A local weights file to use instead of the cache.</param>
    /// <param name="weightStore">Cache folder, offline mode, timeouts; <see langword="null"/> for the defaults.</param>
    public ClassificationBuilder WithBackbone(BackboneSpec backbone, string? weightsPath = null, WeightStoreOptions? weightStore = null)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        if (weightsPath is not null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(weightsPath);
        }

        return this with { Backbone = () => backbone, WeightsPath = weightsPath, WeightStore = weightStore };
    }

    /// <summary>The ML.NET head with default options for <paramref name="trainer"/> (the default head).</summary>
    public ClassificationBuilder WithMLNetHead(MLNetTrainer trainer = MLNetTrainer.LbfgsMaximumEntropy) => this with { Head = HeadConfiguration.MLNet(trainer) };

    /// <summary>The ML.NET head with explicit options.</summary>
    public ClassificationBuilder WithMLNetHead(MLNetHeadOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return this with { Head = HeadConfiguration.MLNet(options) };
    }

    /// <summary>
    /// A head trained through TorchSharp on the cached backbone features, with the study's training loop: one of the study's heads
    /// (<see cref="CustomHeadKind.GlobalAveragePoolDense"/>, <see cref="CustomHeadKind.FlattenDense256"/>) or an MLP, Adam, a
    /// learning rate reduced every epoch, early stopping on the validation set. The split's validation set is used; when it has
    /// none, <see cref="TrainingOptions.ValidationFraction"/> of the training images is held out (whole groups).
    /// Progress reports each batch (<see cref="ClassificationProgress.Training"/>); the history is in <see cref="TrainedClassifier.Training"/>.
    /// </summary>
    /// <param name="head">The architecture; <see langword="null"/> for <see cref="CustomHeadOptions"/>' defaults.</param>
    /// <param name="training">The loop; <see langword="null"/> for <see cref="TrainingOptions"/>' defaults (the study's).</param>
    public ClassificationBuilder WithCustomHead(CustomHeadOptions? head = null, TrainingOptions? training = null) => this with { Head = HeadConfiguration.Custom(head, training) };

    /// <summary>
    /// Fine-tuning: the last blocks of the backbone trained together with a TorchSharp head (<see cref="FineTuneOptions"/>: how many
    /// blocks, the backbone's lower learning rate, the input size, augmentation, the frozen-activation cache), with the study's
    /// training loop and the same validation set as <see cref="WithCustomHead"/>. Works with ONNX backbones (the offline ResNet18
    /// included) and TorchSharp ones. The trained classifier runs its fine-tuned backbone through ONNX Runtime; see
    /// <c>docs/fine-tuning.md</c>.
    /// </summary>
    /// <param name="head">The head; <see langword="null"/> for <see cref="CustomHeadOptions"/>' defaults.</param>
    /// <param name="training">The loop (the head's learning rate); <see langword="null"/> for <see cref="TrainingOptions"/>' defaults.</param>
    /// <param name="fineTune">What of the backbone trains and how; <see langword="null"/> for <see cref="FineTuneOptions"/>' defaults.</param>
    public ClassificationBuilder WithFineTuning(CustomHeadOptions? head = null, TrainingOptions? training = null, FineTuneOptions? fineTune = null) =>
        this with { Head = HeadConfiguration.FineTune(head, training, fineTune) };

    /// <summary>Any head configuration (<see cref="HeadConfiguration.MLNet(MLNetTrainer)"/>, <see cref="HeadConfiguration.Custom"/>, <see cref="HeadConfiguration.FineTune"/>).</summary>
    public ClassificationBuilder WithHead(HeadConfiguration head)
    {
        ArgumentNullException.ThrowIfNull(head);
        return this with { Head = head };
    }

    /// <summary>Featurizer options (parallelism, intra-op threads, cache).</summary>
    public ClassificationBuilder WithFeaturizer(FeaturizerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return this with { Featurizer = options };
    }

    /// <summary>Where the feature cache lives (on by default, in <see cref="FeatureCache.DefaultDirectory"/>).</summary>
    public ClassificationBuilder WithFeatureCache(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        return this with { Featurizer = Copy(Featurizer, useCache: true, directory) };
    }

    /// <summary>Turns the feature cache off.</summary>
    public ClassificationBuilder WithoutFeatureCache() => this with { Featurizer = Copy(Featurizer, useCache: false, null) };

    /// <summary>
    /// Lets the library choose the recipe that fits <paramref name="budget"/> on this machine (<see cref="TrainingBudget"/>): it measures
    /// the backbone's training speed first, then trains the frozen, flip-averaged or fine-tuned recipe that fits, replacing the head
    /// set before. <see cref="ClassificationRun.Plan"/> says what was chosen and why.
    /// </summary>
    public ClassificationBuilder WithTimeBudget(TrainingBudget budget)
    {
        ArgumentNullException.ThrowIfNull(budget);
        return this with { Budget = budget };
    }

    /// <summary>Options for loading the dataset from disk.</summary>
    public ClassificationBuilder WithLoadOptions(DatasetLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return this with { LoadOptions = options };
    }

    /// <summary>Loads, splits, featurizes the training set, fits the head and evaluates on the test set.</summary>
    /// <exception cref="ArgumentException">An option is invalid (all problems listed at once).</exception>
    /// <exception cref="DatasetException">The dataset cannot be used as asked.</exception>
    /// <exception cref="ModelLoadException">The backbone cannot be loaded.</exception>
    /// <exception cref="WeightsUnavailableException">The backbone's weights are neither at the given path, nor cached, nor downloadable.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; the feature cache stays consistent.</exception>
    public async Task<ClassificationRun> RunAsync(IProgress<ClassificationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        Validate();
        var clock = Stopwatch.StartNew();

        // Weights first: a missing or undownloadable backbone fails before any image is read.
        var backbone = await ResolveBackboneAsync(progress, cancellationToken).ConfigureAwait(false);
        var dataset = await LoadAsync(progress, cancellationToken).ConfigureAwait(false);
        var split = FixedSplit ?? (SplitFile is not null ? DatasetSplit.FromFile(dataset, SplitFile) : dataset.Split(SplitOptions));
        var (run, plan) = await PlanAsync(backbone, split, clock.Elapsed, cancellationToken).ConfigureAwait(false);
        var outcome = await run.RunFoldAsync(backbone, FoldData.Of(split), progress, cancellationToken).ConfigureAwait(false);
        var timings = new ConfigurationTimings
        {
            FeaturizationSeconds = outcome.Featurization.TotalSeconds,
            TrainingSeconds = outcome.Training.TotalSeconds,
            EvaluationSeconds = outcome.Evaluating.TotalSeconds,
            PredictionMillisecondsPerImage = outcome.Evaluation!.MillisecondsPerImage,
            FeaturesComputed = outcome.Computed,
            FeaturesFromCache = outcome.CacheHits,
        };
        var result = ConfigurationResults.From($"{backbone.Name} + {run.Head.Description}", backbone.Name, run.Head, split.Classes, [outcome], timings);
        return new ClassificationRun(dataset, split, outcome, result) { Plan = plan, Elapsed = clock.Elapsed, Seed = SplitOptions.Seed };
    }

    /// <summary>Trains on all of <paramref name="items"/> (no split, no evaluation).</summary>
    /// <exception cref="WeightsUnavailableException">The backbone's weights are neither at the given path, nor cached, nor downloadable.</exception>
    public async Task<TrainedClassifier> TrainAsync(IReadOnlyList<DatasetItem> items, IProgress<ClassificationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        Validate();
        var classes = items.Select(i => i.Label).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        var backbone = await ResolveBackboneAsync(progress, cancellationToken).ConfigureAwait(false);
        return (await RunFoldAsync(backbone, new FoldData(classes, items, [], []), progress, cancellationToken).ConfigureAwait(false)).Classifier;
    }

    /// <summary>
    /// The learning-rate range test (Leslie Smith's; fastai's <c>lr_find</c>) for the TorchSharp head or fine-tuning configured here:
    /// loads and splits as <see cref="RunAsync"/> does, then trains the head (or the fine-tuned network) on the training images with
    /// a rate growing exponentially per batch until the loss diverges, and reports the smoothed loss per rate with a suggested rate.
    /// Nothing is kept: the weights are put back and thrown away, so a later <see cref="RunAsync"/> trains as if the test had not run.
    /// Progress reports each step as <see cref="ClassificationStage.Training"/> (<c>Completed</c> of <c>Total</c> steps).
    /// </summary>
    /// <param name="options">The range, steps, divergence and smoothing; <see langword="null"/> for <see cref="LearningRateFinderOptions"/>' defaults.</param>
    /// <param name="progress">Loading, featurizing (frozen heads) and each step.</param>
    /// <param name="cancellationToken">Checked between images and before every step.</param>
    /// <exception cref="ArgumentException">An option is invalid, or the head is an ML.NET one (fitted in one call: no learning rate) or a time budget chooses the recipe.</exception>
    public async Task<LearningRateFinderResult> FindLearningRateAsync(LearningRateFinderOptions? options = null, IProgress<ClassificationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new LearningRateFinderOptions();
        var problems = options.Problems();
        if (Head.CreateTrainer().Loop is null)
        {
            problems.Add($"The learning-rate finder needs a head trained in epochs (WithCustomHead or WithFineTuning); {Head.Description} is fitted in one call and has no learning rate.");
        }

        if (Budget is not null)
        {
            problems.Add("The learning-rate finder tests the head configured here; a time budget chooses its own recipe, so leave WithTimeBudget out.");
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", problems));
        }

        Validate();
        var backbone = await ResolveBackboneAsync(progress, cancellationToken).ConfigureAwait(false);
        var dataset = await LoadAsync(progress, cancellationToken).ConfigureAwait(false);
        var split = FixedSplit ?? (SplitFile is not null ? DatasetSplit.FromFile(dataset, SplitFile) : dataset.Split(SplitOptions));
        var trainer = Head.CreateTrainer();
        var train = split.Train;
        if (split.Validation.Count == 0)
        {
            train = Splitter.Holdout(train, trainer.Loop!.ValidationFraction, trainer.Loop.Seed ?? SplitOptions.Seed).Train;
        }

        var stage = progress is null ? null : new TrainingStage(progress);
        if (!trainer.UsesFeatures)
        {
            return await Task.Run(() => trainer.FindLearningRateFromImages(backbone, split.Classes, train, Featurizer, SplitOptions.Seed, options, stage, cancellationToken), cancellationToken).ConfigureAwait(false);
        }

        using var featurizer = new ImageFeaturizer(backbone, Featurizer);
        var features = await featurizer.FeaturizeAsync(train, progress is null ? null : new StageProgress(progress, ClassificationStage.Featurizing), cancellationToken).ConfigureAwait(false);
        var rows = FeatureRows.Of(features, Enumerable.Range(0, features.Items.Count).ToArray());
        var shape = featurizer.OutputShape.ToArray();
        return await Task.Run(() => trainer.FindLearningRate(split.Classes, rows, shape, SplitOptions.Seed, options, stage, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    private void Validate()
    {
        var problems = new List<string>();
        foreach (var check in new Action[] { SplitOptions.Validate, Featurizer.Validate, LoadOptions.Validate, WeightStore is null ? () => { } : WeightStore.Validate })
        {
            try
            {
                check();
            }
            catch (ArgumentException e)
            {
                problems.Add(e.Message);
            }
        }

        problems.AddRange(Head.Validate());

        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", problems));
        }
    }

    private async Task<ImageDataset> LoadAsync(IProgress<ClassificationProgress>? progress, CancellationToken cancellationToken)
    {
        if (Dataset is not null)
        {
            return Dataset;
        }

        var p = progress is null ? null : new Progress(n => progress.Report(new ClassificationProgress(ClassificationStage.LoadingDataset, n, 0)));
        return IsManifest
            ? await ImageDataset.FromManifestAsync(Source!, LoadOptions, p, cancellationToken).ConfigureAwait(false)
            : await ImageDataset.FromFolderAsync(Source!, LoadOptions, p, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>With a time budget, this builder with the head and featurizer the budget chose, and the plan; else this builder.</summary>
    private async Task<(ClassificationBuilder Run, BudgetPlan? Plan)> PlanAsync(BackboneSpec backbone, DatasetSplit split, TimeSpan elapsed, CancellationToken cancellationToken)
    {
        if (Budget is not { } budget)
        {
            return (this, null);
        }

        var validationShare = split.Validation.Count > 0 ? split.Validation.Count : (int)(split.Train.Count * TrainingOptions.RecommendedCachedFineTune.ValidationFraction);
        var plan = await TorchSharpPackage.Require("A time budget (WithTimeBudget, --time-budget)").PlanBudgetAsync(
            backbone, split.Train.Count - (split.Validation.Count > 0 ? 0 : validationShare), validationShare, split.Test.Count, split.Train, Featurizer, budget, elapsed, Environment.ProcessorCount, cancellationToken).ConfigureAwait(false);
        return (this with { Head = plan.Head, Featurizer = Featurizer with { FlipAveraging = plan.FlipAveraging } }, plan);
    }

    /// <summary>One fold through the fold runner, with this builder's head, featurizer and seed, its progress in the run's stages.</summary>
    private Task<FoldOutcome> RunFoldAsync(BackboneSpec backbone, FoldData data, IProgress<ClassificationProgress>? progress, CancellationToken cancellationToken) =>
        FoldRunner.RunAsync(
            new FoldRequest
            {
                Backbone = backbone,
                Head = Head,
                Trainer = Head.CreateTrainer(),
                Featurizer = Featurizer,
                Seed = SplitOptions.Seed,
                Featurizing = progress is null ? null : new StageProgress(progress, ClassificationStage.Featurizing),
                Steps = progress is null ? null : new StepProgress(progress),
                Training = progress is null ? null : new TrainingStage(progress),
                Evaluating = progress is null ? null : new StageProgress(progress, ClassificationStage.Evaluating),
            },
            data,
            cancellationToken);

    private async Task<BackboneSpec> ResolveBackboneAsync(IProgress<ClassificationProgress>? progress, CancellationToken cancellationToken)
    {
        var spec = Backbone();
        if (spec.WeightSources.Count == 0 && WeightsPath is null)
        {
            return spec;
        }

        var store = new WeightStore(WeightStore);
        return await store.ResolveAsync(spec, WeightsPath, progress is null ? null : new DownloadStage(progress), cancellationToken).ConfigureAwait(false);
    }

    private static FeaturizerOptions Copy(FeaturizerOptions o, bool useCache, string? directory) => o with { UseCache = useCache, CacheDirectory = directory ?? o.CacheDirectory };

    private sealed class StageProgress(IProgress<ClassificationProgress> inner, ClassificationStage stage) : IProgress<FeaturizationProgress>
    {
        public void Report(FeaturizationProgress value) => inner.Report(new ClassificationProgress(stage, value.Completed, value.Total));
    }

    private sealed class StepProgress(IProgress<ClassificationProgress> inner) : IProgress<FoldStep>
    {
        public void Report(FoldStep value) => inner.Report(new ClassificationProgress(ClassificationStage.Training, value == FoldStep.Trained ? 1 : 0, 1));
    }

    private sealed class TrainingStage(IProgress<ClassificationProgress> inner) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) =>
            inner.Report(new ClassificationProgress(ClassificationStage.Training, ((value.Epoch - 1) * value.Batches) + value.Batch, value.Epochs * value.Batches) { Training = value });
    }

    private sealed class DownloadStage(IProgress<ClassificationProgress> inner) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) =>
            inner.Report(new ClassificationProgress(ClassificationStage.DownloadingWeights, (int)(value.BytesReceived / 1024), (int)((value.TotalBytes ?? 0) / 1024)));
    }

    private sealed class Progress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
