using System.IO.Compression;
using System.Runtime.InteropServices;
using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Training.LearningRate;
using TorchSharp.PyBridge;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Sequential = TorchSharp.Modules.Sequential;

namespace PokeClassifier.Training.Custom;

/// <summary>
/// The TorchSharp transfer path's trained head: a <see cref="HeadNetwork"/> module over backbone features, in eval mode. Scoring
/// runs under <c>no_grad</c> in its own dispose scope, so concurrent predictions only read the weights (as in
/// <see cref="TorchBackbone"/>). Saved as safetensors next to the manifest.
/// </summary>
internal sealed class TorchHead : IClassifierHead
{
    /// <summary>The training path's name, also the manifest's head kind.</summary>
    public const string TrainingPath = TorchSharpPackage.HeadKind;

    /// <summary>The head's weights (the module's state dict), inside the saved file.</summary>
    internal const string WeightsEntry = "PokeClassifier/head.safetensors";

    private const int ScoreBatch = 256;
    private readonly int[] _exampleShape;
    private bool _disposed;

    private TorchHead(Sequential network, CustomHeadOptions options, IReadOnlyList<string> classes, int[] featureShape, TrainingSummary? training)
    {
        Network = network;
        Options = options;
        Classes = classes;
        FeatureShape = featureShape;
        Training = training;
        _exampleShape = ExampleShape(featureShape);
    }

    public string Kind => TrainingPath;

    public IReadOnlyList<string> Classes { get; }

    public int[] FeatureShape { get; }

    public TrainingSummary? Training { get; }

    public CustomHeadOptions Options { get; }

    /// <summary>The module: features [n, ...] in, logits [n, classes] out. For export; do not train it further in place.</summary>
    internal Sequential Network { get; }

    /// <summary>Trains a head on feature rows (see <see cref="TorchTrainer"/>).</summary>
    /// <param name="classes">The class labels, in output order.</param>
    /// <param name="train">Training rows and their labels.</param>
    /// <param name="validation">Validation rows and labels, or <see langword="null"/>.</param>
    /// <param name="featureShape">The featurizer's output shape, batch dimension included.</param>
    /// <param name="head">The architecture.</param>
    /// <param name="training">The loop's options.</param>
    /// <param name="seed">The seed used when <see cref="TrainingOptions.Seed"/> is not set.</param>
    /// <param name="progress">Per batch and per epoch.</param>
    /// <param name="cancellationToken">Checked between batches.</param>
    public static TorchHead Train(
        IReadOnlyList<string> classes,
        (IReadOnlyList<float[]> Rows, IReadOnlyList<string> Labels) train,
        (IReadOnlyList<float[]> Rows, IReadOnlyList<string> Labels)? validation,
        int[] featureShape,
        CustomHeadOptions head,
        TrainingOptions training,
        int seed,
        IProgress<TrainingProgress>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(classes);
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(training);
        head.Validate();
        training.Validate();
        var index = classes.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
        var exampleShape = ExampleShape(featureShape);
        var runSeed = training.Seed ?? seed;
        var trainSource = new FeatureBatchSource(train.Rows, Indexes(train.Labels, index), exampleShape);
        var validationSource = validation is { } v ? new FeatureBatchSource(v.Rows, Indexes(v.Labels, index), exampleShape) : null;
        var network = HeadNetwork.Build(head, exampleShape, classes.Count, runSeed);
        try
        {
            var summary = TorchTrainer.Train(network, trainSource, validationSource, classes, training, runSeed, new TrainerContext { Progress = progress, CancellationToken = cancellationToken });
            return new TorchHead(network, head, classes, featureShape, summary);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The learning-rate range test (<see cref="LearningRateFinder"/>) on the head <see cref="Train"/> would start from (same
    /// architecture, seed and batches); the network is thrown away afterwards, so nothing is trained.
    /// </summary>
    public static LearningRateFinderResult FindLearningRate(
        IReadOnlyList<string> classes, (IReadOnlyList<float[]> Rows, IReadOnlyList<string> Labels) train, int[] featureShape, CustomHeadOptions head, TrainingOptions training,
        LearningRateFinderOptions options, int seed, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(classes);
        ArgumentNullException.ThrowIfNull(head);
        ArgumentNullException.ThrowIfNull(training);
        head.Validate();
        var index = classes.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
        var exampleShape = ExampleShape(featureShape);
        var runSeed = training.Seed ?? seed;
        var source = new FeatureBatchSource(train.Rows, Indexes(train.Labels, index), exampleShape);
        using var network = HeadNetwork.Build(head, exampleShape, classes.Count, runSeed);
        return LearningRateFinder.Run(network, source, classes, training, options, runSeed, progress: progress, cancellationToken: cancellationToken);
    }

    /// <summary>Wraps a head network trained elsewhere (fine-tuning trains it together with the backbone); takes ownership of it.</summary>
    internal static TorchHead FromTrained(Sequential network, CustomHeadOptions options, IReadOnlyList<string> classes, int[] featureShape, TrainingSummary? training)
    {
        network.eval();
        return new TorchHead(network, options, classes, featureShape, training);
    }

    /// <summary>Reads the head of a saved TorchSharp-path model.</summary>
    /// <exception cref="ModelLoadException">The file lacks the head's weights or architecture, or they do not fit each other.</exception>
    public static TorchHead Load(ZipArchive zip, SavedManifest manifest, string path)
    {
        var record = manifest.CustomHead ?? throw new ModelLoadException($"'{path}' is a TorchSharp model without its head's architecture (customHead) in the manifest.");
        var entry = zip.GetEntry(WeightsEntry) ?? throw new ModelLoadException($"'{path}' lacks {WeightsEntry}.");
        using var stream = new MemoryStream();
        using (var s = entry.Open())
        {
            s.CopyTo(stream);
        }

        stream.Position = 0;
        var options = record.ToOptions();
        TorchRuntime.EnsureInitialized();
        var network = HeadNetwork.Build(options, ExampleShape(manifest.FeatureShape), manifest.Classes.Count, seed: 0);
        try
        {
            using var scope = NewDisposeScope();
            var state = Safetensors.LoadStateDict(stream);
            var expected = network.state_dict();
            var problems = expected.Where(kv => !state.TryGetValue(kv.Key, out var t) || !t.shape.SequenceEqual(kv.Value.shape))
                .Select(kv => state.TryGetValue(kv.Key, out var t) ? $"{kv.Key} is [{string.Join(",", t.shape)}], the head expects [{string.Join(",", kv.Value.shape)}]" : $"{kv.Key} is missing")
                .Concat(state.Keys.Where(k => !expected.ContainsKey(k)).Select(k => $"{k} is unexpected"))
                .ToArray();
            if (problems.Length > 0)
            {
                throw new ModelLoadException($"'{path}': the head's weights do not fit its recorded architecture ({options.Describe()}, {manifest.Classes.Count} classes): {string.Join("; ", problems)}.");
            }

            using (no_grad())
            {
                foreach (var (name, value) in expected)
                {
                    value.copy_(state[name]);
                }
            }

            network.eval();
            return new TorchHead(network, options, manifest.Classes, manifest.FeatureShape, manifest.Training);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    public float[][] Score(IReadOnlyList<float[]> features)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(features);
        var length = _exampleShape.Aggregate(1, (a, b) => a * b);
        var result = new float[features.Count][];
        for (var start = 0; start < features.Count; start += ScoreBatch)
        {
            var count = Math.Min(ScoreBatch, features.Count - start);
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var batch = empty([count, .. _exampleShape.Select(d => (long)d)], ScalarType.Float32);
            var destination = MemoryMarshal.Cast<byte, float>(batch.bytes);
            for (var i = 0; i < count; i++)
            {
                var row = features[start + i];
                if (row.Length != length)
                {
                    throw new ArgumentException($"Feature row {start + i} has {row.Length} values; the head takes {length}.", nameof(features));
                }

                row.CopyTo(destination.Slice(i * length, length));
            }

            var probabilities = functional.softmax(Network.call(batch), 1).contiguous().data<float>().ToArray();
            for (var i = 0; i < count; i++)
            {
                result[start + i] = probabilities.AsSpan(i * Classes.Count, Classes.Count).ToArray();
            }
        }

        return result;
    }

    public void Save(string path, BackboneSpec backbone, SavedManifest manifest)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        var entry = zip.CreateEntry(WeightsEntry, CompressionLevel.Optimal);
        using (var stream = entry.Open())
        {
            using var scope = NewDisposeScope();
            Safetensors.SaveStateDict(stream, Network.state_dict());
        }

        (manifest with
        {
            FormatVersion = 2,
            HeadKind = TrainingPath,
            CustomHead = SavedManifest.CustomHeadRecord.From(Options),
            Training = Training,
        }).WriteTo(zip);
    }

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            Network.Dispose();
        }
    }

    /// <summary>One example's shape: the featurizer's output shape without its leading batch dimension of 1.</summary>
    internal static int[] ExampleShape(IReadOnlyList<int> featureShape) =>
        featureShape.Count > 1 && featureShape[0] == 1 ? featureShape.Skip(1).ToArray() : featureShape.ToArray();

    private static int[] Indexes(IReadOnlyList<string> labels, Dictionary<string, int> index) =>
        labels.Select(l => index.TryGetValue(l, out var i) ? i : throw new ArgumentException($"The label '{l}' is not one of the classes.", nameof(labels))).ToArray();
}
