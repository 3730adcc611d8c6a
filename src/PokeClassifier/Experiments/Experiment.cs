using System.Diagnostics;
using System.Globalization;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Evaluation;
using PokeClassifier.Features;
using PokeClassifier.Pipeline;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training;

namespace PokeClassifier.Experiments;

/// <summary>
/// Compares several configurations (backbone x head) on one dataset and one protocol: a single split, or stratified k-fold with
/// mean and spread. Each backbone featurizes every image once (through the feature cache), and every head on that backbone trains
/// on the same features, so adding a head to a comparison costs seconds. Each <c>With*</c>/<c>Add</c> returns a new experiment.
/// </summary>
/// <example>
/// <code>
/// var result = await Experiment.For(dataset)
///     .WithKFold(5)
///     .Add(ExperimentConfiguration.Of(BackboneSpec.ResNet18, HeadConfiguration.MLNet(MLNetTrainer.LbfgsMaximumEntropy)))
///     .Add(ExperimentConfiguration.Of(BackboneSpec.ResNet18, HeadConfiguration.MLNet(MLNetTrainer.SdcaMaximumEntropy)))
///     .RunAsync();
/// Console.WriteLine(result.ComparisonTable());
/// </code>
/// </example>
public sealed record Experiment
{
    private const int MemorySampleMilliseconds = 50;

    private Experiment(ImageDataset dataset)
    {
        Dataset = dataset;
    }

    internal ImageDataset Dataset { get; init; }

    internal SplitOptions SplitOptions { get; init; } = new();

    internal DatasetSplit? FixedSplit { get; init; }

    internal int Folds { get; init; }

    internal int KFoldSeed { get; init; } = 42;

    internal IReadOnlyList<ExperimentConfiguration> Configurations { get; init; } = [];

    internal FeaturizerOptions Featurizer { get; init; } = new();

    internal WeightStoreOptions? WeightStore { get; init; }

    internal int PredictionSample { get; init; } = 16;

    internal bool MeasureModelSize { get; init; } = true;

    /// <summary>Starts an experiment on a loaded dataset. The default protocol is <see cref="SplitOptions"/>' defaults (70/10/20, seed 42).</summary>
    public static Experiment For(ImageDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return new Experiment(dataset);
    }

    /// <summary>Evaluates on one stratified (group-aware when the dataset has groups) split; its seed also drives training.</summary>
    public Experiment WithSplit(SplitOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return this with { SplitOptions = options, FixedSplit = null, Folds = 0 };
    }

    /// <summary>Evaluates on a split made beforehand (training uses <see cref="SplitOptions.Seed"/> of the default options, 42).</summary>
    public Experiment WithSplit(DatasetSplit split)
    {
        ArgumentNullException.ThrowIfNull(split);
        return this with { FixedSplit = split, Folds = 0 };
    }

    /// <summary>Evaluates with stratified k-fold (group-aware when the dataset has groups): every image is tested once.</summary>
    /// <param name="folds">The number of folds, at least 2.</param>
    /// <param name="seed">Drives the fold assignment and the training.</param>
    public Experiment WithKFold(int folds, int seed = 42)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(folds, 2);
        return this with { Folds = folds, KFoldSeed = seed, FixedSplit = null };
    }

    /// <summary>Adds a configuration to compare.</summary>
    public Experiment Add(ExperimentConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return this with { Configurations = [.. Configurations, configuration] };
    }

    /// <summary>Adds a configuration to compare.</summary>
    public Experiment Add(string name, BackboneSpec backbone, HeadConfiguration head)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(backbone);
        ArgumentNullException.ThrowIfNull(head);
        return Add(new ExperimentConfiguration { Name = name, Backbone = backbone, Head = head });
    }

    /// <summary>Featurizer options (parallelism, intra-op threads, cache).</summary>
    public Experiment WithFeaturizer(FeaturizerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return this with { Featurizer = options };
    }

    /// <summary>Where the feature cache lives (on by default, in <see cref="FeatureCache.DefaultDirectory"/>).</summary>
    public Experiment WithFeatureCache(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        return this with { Featurizer = CopyFeaturizer(Featurizer, useCache: true, directory) };
    }

    /// <summary>Where backbone weights are cached and whether they may be downloaded (see <see cref="Backbones.WeightStore"/>).</summary>
    public Experiment WithWeightStore(WeightStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return this with { WeightStore = options };
    }

    /// <summary>Turns the feature cache off (every run then computes every feature).</summary>
    public Experiment WithoutFeatureCache() => this with { Featurizer = CopyFeaturizer(Featurizer, useCache: false, null) };

    /// <summary>
    /// How costs are measured. <paramref name="predictionSample"/> test images are classified end to end to time prediction
    /// (0 turns it off); <paramref name="measureModelSize"/> saves each model to a temporary file to weigh it.
    /// </summary>
    /// <param name="predictionSample">Images timed per configuration. The default is 16.</param>
    /// <param name="measureModelSize">Whether to save each model to measure its size. The default is <see langword="true"/>.</param>
    public Experiment WithMeasurements(int predictionSample = 16, bool measureModelSize = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(predictionSample);
        return this with { PredictionSample = predictionSample, MeasureModelSize = measureModelSize };
    }

    /// <summary>Runs every configuration and returns their results.</summary>
    /// <exception cref="ArgumentException">The experiment is invalid (all problems listed at once).</exception>
    /// <exception cref="DatasetException">The dataset cannot be split as asked, or a training set has fewer than two classes.</exception>
    /// <exception cref="ModelLoadException">A backbone cannot be loaded.</exception>
    /// <exception cref="WeightsUnavailableException">A backbone's weights are neither at the given path, nor cached, nor downloadable.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; the feature cache stays consistent.</exception>
    public async Task<ExperimentResult> RunAsync(IProgress<ExperimentProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        Validate();
        var total = Stopwatch.StartNew();

        // Weights first: a missing backbone fails before any image is read or any head is trained.
        var backbones = await ResolveBackbonesAsync(progress, cancellationToken).ConfigureAwait(false);
        var splits = Folds > 0 ? Dataset.KFold(Folds, KFoldSeed) : [FixedSplit ?? Dataset.Split(SplitOptions)];
        var run = new RunState(splits, Configurations.Count, Folds > 0 ? KFoldSeed : SplitOptions.Seed, progress, cancellationToken);
        run.Skipped.AddRange(Dataset.Skipped);
        var trainers = Configurations.Select(c => c.Head.CreateTrainer()).ToArray();
        var items = ImagesToFeaturize(splits, trainers);
        var results = new ConfigurationResult[Configurations.Count];

        // One featurizer per backbone; the configurations on it share its features. Fine-tuning trains from the images, not from
        // the frozen features: a backbone used only for fine-tuning featurizes nothing here.
        foreach (var group in Enumerable.Range(0, Configurations.Count).GroupBy(i => ImageFeaturizer.ComputeIdentity(backbones[i]), StringComparer.Ordinal))
        {
            var backbone = backbones[group.First()];
            using var featurizer = new ImageFeaturizer(backbone, Featurizer);
            var features = await FoldFeatures.ComputeAsync(
                featurizer, group.Any(i => trainers[i].UsesFeatures) ? items : [], progress is null ? null : new FeatureProgress(progress, backbone.Name), cancellationToken).ConfigureAwait(false);
            run.Skipped.AddRange(features.Features.Failed);
            foreach (var index in group)
            {
                results[index] = await RunConfigurationAsync(Configurations[index], index, trainers[index], backbone, features, run).ConfigureAwait(false);
            }
        }

        return new ExperimentResult
        {
            Classes = splits[0].Classes,
            Configurations = results,
            Dataset = Dataset.ToString(),
            DatasetRoot = Dataset.Root,
            Protocol = Folds > 0
                ? string.Create(CultureInfo.InvariantCulture, $"stratified {Folds}-fold{(Dataset.HasGroups ? ", group-aware" : string.Empty)}, {items.Length} images")
                : $"split: {splits[0]}{(Dataset.HasGroups && FixedSplit is null ? ", group-aware" : string.Empty)}",
            FoldCount = splits.Count,
            Seed = run.Seed,
            Skipped = ExperimentResult.Ordered(run.Skipped),
            TotalSeconds = total.Elapsed.TotalSeconds,
        };
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Configurations.Count} configuration(s) on {Dataset}, {(Folds > 0 ? $"{Folds}-fold" : FixedSplit is not null ? "fixed split" : "split")}");

    private async Task<BackboneSpec[]> ResolveBackbonesAsync(IProgress<ExperimentProgress>? progress, CancellationToken cancellationToken)
    {
        var store = new WeightStore(WeightStore);
        var resolved = new BackboneSpec[Configurations.Count];
        for (var i = 0; i < Configurations.Count; i++)
        {
            var config = Configurations[i];
            resolved[i] = config.Backbone.WeightSources.Count == 0 && config.WeightsPath is null
                ? config.Backbone
                : await store.ResolveAsync(config.Backbone, config.WeightsPath, progress is null ? null : new DownloadStage(progress, config.Backbone.Name), cancellationToken).ConfigureAwait(false);
        }

        return resolved;
    }

    /// <summary>Every fold of one configuration through the fold runner, then its costs measured on the first fold's classifier.</summary>
    private async Task<ConfigurationResult> RunConfigurationAsync(ExperimentConfiguration config, int index, HeadTrainer trainer, BackboneSpec backbone, FoldFeatures features, RunState run)
    {
        using var memory = new PeakMemorySampler(MemorySampleMilliseconds);
        var splits = run.Splits;
        var outcomes = new List<FoldOutcome>();
        try
        {
            for (var f = 0; f < splits.Count; f++)
            {
                var subject = splits.Count > 1 ? $"{config.Name}, fold {f + 1}/{splits.Count}" : config.Name;
                run.Starting(subject);
                var request = new FoldRequest
                {
                    Backbone = backbone, Head = config.Head, Trainer = trainer, Featurizer = Featurizer, Seed = run.Seed,
                    Subject = $"Configuration '{config.Name}', fold {f + 1}: ", SharedFeatures = features, Training = run.Batches(subject),
                };
                var outcome = await FoldRunner.RunAsync(request, FoldData.Of(splits[f]), run.Cancellation).ConfigureAwait(false);
                outcomes.Add(outcome);
                run.Skipped.AddRange([.. outcome.TrainingSkipped, .. outcome.Evaluation!.Skipped]);
                if (f > 0)
                {
                    outcome.Classifier.Dispose(); // the first fold's classifier is the one measured
                }

                run.Finished(subject);
            }

            run.Progress?.Report(new ExperimentProgress(ExperimentStage.Measuring, config.Name, index, Configurations.Count));
            var first = outcomes[0].Classifier;
            var modelSize = MeasureModelSize ? MeasureSize(first) : 0;
            var timings = new ConfigurationTimings
            {
                // Featurization runs once per backbone and is shared by its configurations; fine-tuning prepares its images in every fold.
                FeaturizationSeconds = trainer.UsesFeatures ? features.Elapsed.TotalSeconds : outcomes.Average(o => o.Featurization.TotalSeconds),
                TrainingSeconds = outcomes.Average(o => o.Training.TotalSeconds),
                PredictionMillisecondsPerImage = MeasurePrediction(first, splits[0].Test, run.Cancellation),
                FeaturesComputed = features.Features.Computed,
                FeaturesFromCache = features.Features.CacheHits,
            };
            var result = ConfigurationResults.From(config.Name, backbone.Name, config.Head, splits[0].Classes, outcomes, timings);
            return result with { ModelSizeBytes = modelSize, PeakMemoryBytes = memory.Stop() };
        }
        finally
        {
            if (outcomes.Count > 0)
            {
                outcomes[0].Classifier.Dispose();
            }
        }
    }

    /// <summary>Every image of every fold, once; validation images only for heads that train in epochs (ML.NET heads train on the training set alone).</summary>
    private static DatasetItem[] ImagesToFeaturize(IReadOnlyList<DatasetSplit> splits, IReadOnlyList<HeadTrainer> trainers)
    {
        var needsValidation = trainers.Any(t => t.UsesFeatures && t.Loop is not null);
        return splits.SelectMany(s => needsValidation ? s.Train.Concat(s.Validation).Concat(s.Test) : s.Train.Concat(s.Test)).DistinctBy(i => i.Path, StringComparer.Ordinal).ToArray();
    }

    private static long MeasureSize(TrainedClassifier classifier)
    {
        var path = Path.Combine(Path.GetTempPath(), $"pokeclassifier-size-{Guid.NewGuid():N}.zip");
        try
        {
            classifier.Save(path);
            return new FileInfo(path).Length;
        }
        finally
        {
            File.Delete(path);
        }
    }

    private double MeasurePrediction(TrainedClassifier classifier, IReadOnlyList<DatasetItem> test, CancellationToken cancellationToken)
    {
        if (PredictionSample == 0 || test.Count == 0)
        {
            return 0;
        }

        // Evenly spaced test images, read before timing so that disk speed does not count; one warm-up prediction first.
        var step = Math.Max(1, test.Count / PredictionSample);
        var sample = Enumerable.Range(0, Math.Min(PredictionSample, test.Count)).Select(i => test[Math.Min(test.Count - 1, i * step)]).ToArray();
        var bytes = new List<byte[]>();
        foreach (var item in sample)
        {
            try
            {
                var b = File.ReadAllBytes(item.Path);
                _ = classifier.Predict(b, 1);
                bytes.Add(b);
            }
            catch (Exception e) when (e is InvalidImageException or IOException)
            {
                // A file that cannot be classified is listed elsewhere; it is simply not timed.
            }

            cancellationToken.ThrowIfCancellationRequested();
        }

        if (bytes.Count == 0)
        {
            return 0;
        }

        var watch = Stopwatch.StartNew();
        foreach (var b in bytes)
        {
            _ = classifier.Predict(b, 1);
        }

        return watch.Elapsed.TotalMilliseconds / bytes.Count;
    }

    private void Validate()
    {
        var problems = new List<string>();
        if (Configurations.Count == 0)
        {
            problems.Add("Add at least one configuration.");
        }

        foreach (var name in Configurations.GroupBy(c => c.Name, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key))
        {
            problems.Add($"The configuration name '{name}' is used more than once; names must be unique.");
        }

        foreach (var config in Configurations)
        {
            if (string.IsNullOrWhiteSpace(config.Name))
            {
                problems.Add("A configuration has an empty name.");
            }

            problems.AddRange(config.Head.Validate().Select(p => $"Configuration '{config.Name}': {p}"));
        }

        foreach (var check in new Action[] { SplitOptions.Validate, Featurizer.Validate, WeightStore is null ? () => { } : WeightStore.Validate })
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

        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid experiment: " + string.Join(" ", problems));
        }
    }

    private static FeaturizerOptions CopyFeaturizer(FeaturizerOptions o, bool useCache, string? directory) =>
        o with { UseCache = useCache, CacheDirectory = directory ?? o.CacheDirectory };

    /// <summary>What the folds of every configuration share: the splits, the seed, the progress units done, the files skipped.</summary>
    private sealed class RunState(IReadOnlyList<DatasetSplit> splits, int configurations, int seed, IProgress<ExperimentProgress>? progress, CancellationToken cancellationToken)
    {
        private readonly int _units = configurations * splits.Count;
        private int _done;

        public IReadOnlyList<DatasetSplit> Splits => splits;

        public int Seed => seed;

        public IProgress<ExperimentProgress>? Progress => progress;

        public CancellationToken Cancellation => cancellationToken;

        public List<SkippedFile> Skipped { get; } = [];

        public void Starting(string subject) => progress?.Report(new ExperimentProgress(ExperimentStage.Training, subject, _done, _units));

        public void Finished(string subject)
        {
            _done++;
            Starting(subject);
        }

        public TrainingStage? Batches(string subject) => progress is null ? null : new TrainingStage(progress, subject, _done, _units);
    }

    private sealed class FeatureProgress(IProgress<ExperimentProgress> inner, string backbone) : IProgress<FeaturizationProgress>
    {
        public void Report(FeaturizationProgress value) => inner.Report(new ExperimentProgress(ExperimentStage.Featurizing, backbone, value.Completed, value.Total));
    }

    private sealed class TrainingStage(IProgress<ExperimentProgress> inner, string subject, int completed, int total) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => inner.Report(new ExperimentProgress(ExperimentStage.Training, subject, completed, total) { Training = value });
    }

    private sealed class DownloadStage(IProgress<ExperimentProgress> inner, string backbone) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) =>
            inner.Report(new ExperimentProgress(ExperimentStage.DownloadingWeights, backbone, (int)(value.BytesReceived / 1024), (int)((value.TotalBytes ?? 0) / 1024)));
    }

    /// <summary>Samples the process working set on a timer and keeps the highest value seen.</summary>
    private sealed class PeakMemorySampler : IDisposable
    {
        private readonly Timer _timer;
        private long _peak;

        public PeakMemorySampler(int periodMilliseconds)
        {
            Sample(null);
            _timer = new Timer(Sample, null, periodMilliseconds, periodMilliseconds);
        }

        public long Stop()
        {
            _timer.Change(Timeout.Infinite, Timeout.Infinite);
            Sample(null);
            return Interlocked.Read(ref _peak);
        }

        public void Dispose() => _timer.Dispose();

        private void Sample(object? state)
        {
            var now = Environment.WorkingSet;
            long seen;
            do
            {
                seen = Interlocked.Read(ref _peak);
            }
            while (now > seen && Interlocked.CompareExchange(ref _peak, now, seen) != seen);
        }
    }
}
