using System.Diagnostics;
using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Onnx;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Data;
using PokeClassifier.Features;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.LearningRate;
using static TorchSharp.torch;

namespace PokeClassifier.Training.FineTuning;

/// <summary>
/// Fine-tunes a backbone with a head (<see cref="FineTuneHeadConfiguration"/>) and returns a classifier like any other: the backbone
/// is imported as a graph module (<see cref="BackboneGraph"/>, <see cref="OnnxTorchImporter"/>), cut before its last blocks, trained
/// with the head by <see cref="TorchTrainer"/> (two parameter groups: the head at the loop's rate, the backbone lower), then written
/// back as an ONNX backbone (preprocessing inside, pixels in) that the classifier runs through ONNX Runtime, saves and exports.
/// </summary>
internal static class FineTuner
{
    /// <summary>The input name of a fine-tuned backbone file: 0..255 RGB pixels, preprocessing inside.</summary>
    public const string PixelInput = "pixels";

    /// <summary>The folder name fine-tuned backbones are written to.</summary>
    public const string FolderName = "fine-tuned";

    /// <summary>
    /// Where fine-tuned backbones are written, by content hash: <c>fine-tuned/</c> inside the feature cache folder when the cache is
    /// on (so a run with its own cache keeps everything there), else under the cache root.
    /// </summary>
    public static string DirectoryFor(FeaturizerOptions? options) =>
        options is { UseCache: true }
            ? Path.Combine(Path.GetFullPath(options.CacheDirectory ?? FeatureCache.DefaultDirectory), FolderName)
            : Path.Combine(CacheRoot.Directory, FolderName);

    /// <summary>Fine-tunes and returns the classifier, the images that could not be decoded, and the time spent preparing and training.</summary>
    /// <param name="backbone">The resolved backbone spec.</param>
    /// <param name="classes">The labels, in output order.</param>
    /// <param name="train">Training images.</param>
    /// <param name="validation">Validation images (early stopping), possibly empty.</param>
    /// <param name="configuration">Head, loop and fine-tuning options.</param>
    /// <param name="featurizer">Options of the resulting classifier's featurizer (cache, parallelism) and of the frozen-activation cache.</param>
    /// <param name="seed">The run's seed, when the loop's options have none.</param>
    /// <param name="progress">Per batch and per epoch.</param>
    /// <param name="cancellationToken">Checked between batches.</param>
    public static FineTuneResult Train(
        BackboneSpec backbone, IReadOnlyList<string> classes, IReadOnlyList<DatasetItem> train, IReadOnlyList<DatasetItem> validation,
        FineTuneHeadConfiguration configuration, FeaturizerOptions featurizer, int seed, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        ArgumentNullException.ThrowIfNull(configuration);
        var problems = configuration.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", problems));
        }

        var options = configuration.FineTuning;
        var runSeed = configuration.Training.Seed ?? seed;
        var prepare = Stopwatch.StartNew();
        using var setup = Prepared.Create(backbone, classes, train, validation, options, featurizer, cancellationToken);
        var (graph, module, cut, size, trainImages, validationImages, tensorizer, cached, trainActivations, validationActivations, trainSource, validationSource, featureShape) =
            (setup.Graph, setup.Module, setup.Cut, setup.Size, setup.TrainImages, setup.ValidationImages, setup.Tensorizer, setup.Cached, setup.TrainActivations, setup.ValidationActivations, setup.TrainSource, setup.ValidationSource, setup.FeatureShape);
        var head = HeadNetwork.Build(configuration.Head, featureShape, classes.Count, runSeed);
        TrainedClassifier? classifier = null;
        try
        {
            var warmup = options.HeadWarmupEpochs > 0
                ? WarmUpHead(module, graph, head, trainImages, validationImages, trainActivations, validationActivations, tensorizer, classes, configuration, runSeed, cut, featurizer, backbone, size, progress, cancellationToken)
                : null;
            var network = new FineTuneNetwork(module, head, cut, inputIsFrontier: cached, options.UpdateBatchNormStatistics);
            var headRate = configuration.Training.LearningRate;
            var groups = new List<ParameterGroup> { new("head", network.HeadParameters, headRate) };
            if (network.BackboneParameters.Count > 0)
            {
                groups.Add(new ParameterGroup("backbone", network.BackboneParameters, options.BackboneLearningRate ?? headRate * options.BackboneLearningRateFactor));
            }

            var preparation = prepare.Elapsed;
            var training = options.ProgressiveResizing is { } resizing && trainSource is ImageBatchSource images
                ? configuration.Training with { Callbacks = [new ProgressiveResizingCallback(resizing, images), .. configuration.Training.Callbacks] }
                : configuration.Training;
            var summary = TorchTrainer.Train(
                network, trainSource, validationSource, classes, training, runSeed, Context(network, groups, options, progress, cancellationToken));

            // The classifier runs the fine-tuned backbone like any ONNX backbone: written with its preprocessing, pixels in.
            var path = WriteBackbone(graph, module, backbone.Preprocessing, size, featureShape, DirectoryFor(featurizer));
            var spec = new BackboneSpec
            {
                Name = $"{backbone.Name} fine-tuned ({options})",
                Engine = BackboneEngine.OnnxRuntime,
                ModelPath = path,
                InputName = PixelInput,
                OutputName = graph.OutputName,
                InputWidth = size,
                InputHeight = size,
                FeatureLength = featureShape.Aggregate(1, (a, d) => a * d),
                FeatureShape = featureShape,
                Preprocessing = new ImagePreprocessing(),
            };
            // Trained on both views of each image, the classifier scores the mean of both views' features.
            var featurizerForClassifier = new ImageFeaturizer(spec, cached && options.MirrorViews ? featurizer with { FlipAveraging = true } : featurizer);
            var torchHead = TorchHead.FromTrained(head, configuration.Head, classes, [.. featurizerForClassifier.OutputShape], summary);
            classifier = new TrainedClassifier(featurizerForClassifier, ownsFeaturizer: true, torchHead, configuration.Description);
            return new FineTuneResult
            {
                Classifier = classifier,
                Skipped = [.. trainImages.Skipped, .. validationImages.Skipped],
                Preparation = preparation,
                Training = TimeSpan.FromSeconds(summary.Seconds + (warmup?.Seconds ?? 0)),
                HeadWarmup = warmup,
                FrozenActivationsComputed = (trainActivations?.Computed ?? 0) + (validationActivations?.Computed ?? 0),
                FrozenActivationBytes = (trainActivations?.Bytes ?? 0) + (validationActivations?.Bytes ?? 0),
                TrainedParameters = network.BackboneParameters.Sum(p => p.numel()),
                CachedActivations = cached,
            };
        }
        catch
        {
            if (classifier is null)
            {
                head.Dispose();
            }

            throw;
        }
    }

    /// <summary>
    /// The learning-rate range test on the network fine-tuning would train (the same cut, head, parameter groups, batches and
    /// augmentation; the head's warm-up is not run, so the head starts from its initial weights); the backbone's and the head's
    /// weights are put back and thrown away afterwards.
    /// </summary>
    public static LearningRateFinderResult FindLearningRate(
        BackboneSpec backbone, IReadOnlyList<string> classes, IReadOnlyList<DatasetItem> train, FineTuneHeadConfiguration configuration, FeaturizerOptions featurizer, int seed,
        LearningRateFinderOptions finder, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        ArgumentNullException.ThrowIfNull(configuration);
        var problems = configuration.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", problems));
        }

        finder.Validate();
        var options = configuration.FineTuning;
        var runSeed = configuration.Training.Seed ?? seed;
        using var setup = Prepared.Create(backbone, classes, train, [], options, featurizer, cancellationToken);
        using var head = HeadNetwork.Build(configuration.Head, setup.FeatureShape, classes.Count, runSeed);
        using var network = new FineTuneNetwork(setup.Module, head, setup.Cut, inputIsFrontier: setup.Cached, options.UpdateBatchNormStatistics);
        var headRate = configuration.Training.LearningRate;
        var groups = new List<ParameterGroup> { new("head", network.HeadParameters, headRate) };
        if (network.BackboneParameters.Count > 0)
        {
            groups.Add(new ParameterGroup("backbone", network.BackboneParameters, options.BackboneLearningRate ?? headRate * options.BackboneLearningRateFactor));
        }

        return LearningRateFinder.Run(
            network, setup.TrainSource, classes, configuration.Training, finder, runSeed, groups, new TrainerHooks { EnterTraining = _ => network.EnterTraining() }, options.Threads, progress, cancellationToken);
    }

    /// <summary>What training and the learning-rate finder share: the imported, cut backbone, the decoded images, their batch sources.</summary>
    private sealed class Prepared : IDisposable
    {
        public required BackboneGraph Graph { get; init; }

        public required OnnxGraphModule Module { get; init; }

        public required int Cut { get; init; }

        public required int Size { get; init; }

        public required FineTuneImages TrainImages { get; init; }

        public required FineTuneImages ValidationImages { get; init; }

        public required ImageTensorizer Tensorizer { get; init; }

        public required bool Cached { get; init; }

        /// <summary>The frozen part in ONNX Runtime, when the activations are cached and the graph could be written.</summary>
        public FrozenPrefix? Prefix { get; init; }

        public ActivationBatchSource? TrainActivations { get; init; }

        public ActivationBatchSource? ValidationActivations { get; init; }

        public required IBatchSource TrainSource { get; init; }

        public IBatchSource? ValidationSource { get; init; }

        public required int[] FeatureShape { get; init; }

        public static Prepared Create(
            BackboneSpec backbone, IReadOnlyList<string> classes, IReadOnlyList<DatasetItem> train, IReadOnlyList<DatasetItem> validation, FineTuneOptions options, FeaturizerOptions featurizer,
            CancellationToken cancellationToken)
        {
            var size = options.InputSize ?? backbone.InputWidth;
            if (options.InputSize is null && backbone.InputWidth != backbone.InputHeight)
            {
                throw new ArgumentException($"Backbone {backbone.Name} takes {backbone.InputWidth} x {backbone.InputHeight} images; fine-tuning runs square inputs, so set {nameof(FineTuneOptions.InputSize)}.");
            }

            TorchRuntime.EnsureInitialized(options.Threads);
            var graph = BackboneGraph.For(backbone);
            var module = OnnxTorchImporter.Import(graph.Model, graph.OutputName, graph.Source);
            ImageTensorizer? tensorizer = null;
            FrozenPrefix? prefix = null;
            ActivationBatchSource? trainActivations = null;
            ActivationBatchSource? validationActivations = null;
            try
            {
                var cut = options.UnfreezeFrom is { } from ? module.IndexOf(from)
                    : options.UnfreezeLastBlocks == 0 ? module.NodeCount
                    : module.Blocks[Math.Max(0, module.Blocks.Count - Math.Min(options.UnfreezeLastBlocks, module.Blocks.Count))].Start;
                module.SetTrainableFrom(cut);

                var augmented = options.Augmentation is { IsEnabled: true } || options.ProgressiveResizing is not null;
                var frontier = module.Frontier(cut);
                var cached = options.CacheFrozenActivations && !augmented && cut > 0 && frontier.Count == 1;

                // Epochs on cached activations never read the images again: the frozen pass decodes each one as it goes instead of
                // holding every decoded image beside the activations it fills.
                var parallelism = Math.Max(1, featurizer.Parallelism);
                var trainImages = FineTuneImages.Load(train, classes, size, parallelism, featurizer.MaxDecodePixels, cancellationToken, holdPixels: !cached);
                var validationImages = FineTuneImages.Load(validation, classes, size, parallelism, featurizer.MaxDecodePixels, cancellationToken, holdPixels: !cached);
                if (trainImages.Count == 0)
                {
                    throw new DatasetException($"None of the {train.Count} training images could be decoded; first failure: {(trainImages.Skipped.Count > 0 ? trainImages.Skipped[0] : null)}");
                }

                tensorizer = new ImageTensorizer(backbone.Preprocessing, size);
                var cache = cached && featurizer.UseCache ? new FeatureCache(featurizer.CacheDirectory) : null;
                var identity = cached ? ActivationBatchSource.Identity(ImageFeaturizer.ComputeIdentity(backbone), size, frontier[0]) : string.Empty;
                prefix = cached ? FrozenPrefix.TryCreate(graph, module, cut, backbone.Preprocessing, size, DirectoryFor(featurizer), parallelism) : null;
                trainActivations = cached ? ActivationBatchSource.Build(trainImages, tensorizer, module, cut, prefix, options.MirrorViews, identity, cache, cancellationToken) : null;
                validationActivations = cached && validationImages.Count > 0 ? ActivationBatchSource.Build(validationImages, tensorizer, module, cut, prefix, mirrorViews: false, identity, cache, cancellationToken) : null;
                if (trainActivations is not null)
                {
                    // Every epoch (and the head's warm-up) now reads the activations; the decoded images are no longer needed.
                    trainImages.ReleasePixels();
                    validationImages.ReleasePixels();
                }

                IBatchSource trainSource = trainActivations is not null ? trainActivations : new ImageBatchSource(trainImages, tensorizer, options.Augmentation);
                IBatchSource? validationSource = validationImages.Count == 0 ? null
                    : validationActivations is not null ? validationActivations : new ImageBatchSource(validationImages, tensorizer, null);
                return new Prepared
                {
                    Graph = graph, Module = module, Cut = cut, Size = size, TrainImages = trainImages, ValidationImages = validationImages, Tensorizer = tensorizer, Cached = cached, Prefix = prefix,
                    TrainActivations = trainActivations, ValidationActivations = validationActivations, TrainSource = trainSource, ValidationSource = validationSource,
                    FeatureShape = ProbeFeatureShape(module, size),
                };
            }
            catch
            {
                validationActivations?.Dispose();
                trainActivations?.Dispose();
                prefix?.Dispose();
                tensorizer?.Dispose();
                module.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            ValidationActivations?.Dispose();
            TrainActivations?.Dispose();
            Prefix?.Dispose();
            Tensorizer.Dispose();
            Module.Dispose();
        }
    }

    /// <summary>
    /// Trains the head alone on the whole frozen backbone's output with the recommended head loop, then gives the backbone back its
    /// trainable part. The features are the cached activations run through the rest of the (still untrained) backbone when the run
    /// caches them, else computed once (no augmentation; cached on disk with the run's feature cache).
    /// </summary>
    private static TrainingSummary WarmUpHead(
        OnnxGraphModule module, BackboneGraph graph, TorchSharp.Modules.Sequential head, FineTuneImages train, FineTuneImages validation,
        ActivationBatchSource? trainActivations, ActivationBatchSource? validationActivations, ImageTensorizer tensorizer, IReadOnlyList<string> classes,
        FineTuneHeadConfiguration configuration, int seed, int cut, FeaturizerOptions featurizer, BackboneSpec backbone, int size, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        var options = configuration.FineTuning;
        module.SetTrainableFrom(module.NodeCount);
        try
        {
            var cache = featurizer.UseCache ? new FeatureCache(featurizer.CacheDirectory) : null;
            var output = module.Frontier(module.NodeCount).Single();
            var identity = ActivationBatchSource.Identity(ImageFeaturizer.ComputeIdentity(backbone), size, output);
            using var prefix = trainActivations is null ? FrozenPrefix.TryCreate(graph, module, module.NodeCount, backbone.Preprocessing, size, DirectoryFor(featurizer), Math.Max(1, featurizer.Parallelism)) : null;
            using var trainFeatures = trainActivations?.Through(module, cut)
                ?? ActivationBatchSource.Build(train, tensorizer, module, module.NodeCount, prefix, options.MirrorViews, identity, cache, cancellationToken);
            using var validationFeatures = validationActivations?.Through(module, cut)
                ?? (validation.Count > 0 ? ActivationBatchSource.Build(validation, tensorizer, module, module.NodeCount, prefix, mirrorViews: false, identity, cache, cancellationToken) : null);
            var network = new FineTuneNetwork(module, head, module.NodeCount, inputIsFrontier: true, batchNormStatistics: false);
            var warmupOptions = TrainingOptions.Recommended with
            {
                Epochs = options.HeadWarmupEpochs,
                BatchSize = configuration.Training.BatchSize,
                LearningRate = options.HeadWarmupLearningRate,
                LabelSmoothing = configuration.Training.LabelSmoothing,
                ClassWeights = configuration.Training.ClassWeights,
                EarlyStopping = null,
            };
            return TorchTrainer.Train(
                network, trainFeatures, validationFeatures, classes, warmupOptions, seed,
                Context(network, [new ParameterGroup("head", network.HeadParameters, options.HeadWarmupLearningRate)], options, progress, cancellationToken));
        }
        finally
        {
            module.SetTrainableFrom(cut);
        }
    }

    /// <summary>One image's feature shape (no batch dimension) at the given size.</summary>
    /// <summary>The loop's context for a fine-tuning network: its groups, its own training mode (frozen batch norms), every core.</summary>
    private static TrainerContext Context(FineTuneNetwork network, IReadOnlyList<ParameterGroup> groups, FineTuneOptions options, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken) => new()
    {
        Groups = groups,
        Hooks = new TrainerHooks { EnterTraining = _ => network.EnterTraining() },
        Threads = options.Threads,
        Progress = progress,
        CancellationToken = cancellationToken,
    };

    private static int[] ProbeFeatureShape(OnnxGraphModule module, int size)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        module.eval();
        return module.call(zeros(1, 3, size, size)).shape.Skip(1).Select(d => checked((int)d)).ToArray();
    }

    /// <summary>Writes the fine-tuned backbone (pixels → preprocessing → graph with the trained weights → features) by content hash.</summary>
    private static string WriteBackbone(BackboneGraph graph, OnnxGraphModule module, ImagePreprocessing preprocessing, int size, int[] featureShape, string directory)
    {
        var (builder, features, _) = OnnxPipelineWriter.Begin(graph, preprocessing, size, size, PixelInput, module.Nodes, module.ExportWeights());
        builder.AddOutput(features, [OnnxDim.Batch, .. featureShape.Select(d => (OnnxDim)d)]);
        return builder.SaveByContent(directory);
    }
}
