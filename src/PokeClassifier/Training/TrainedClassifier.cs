using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Evaluation;
using PokeClassifier.Features;
using PokeClassifier.Training.Custom;

namespace PokeClassifier.Training;

/// <summary>
/// A trained image classifier: a backbone and a head, trained through ML.NET or TorchSharp. Predicts labels for image files or
/// bytes, evaluates on labelled images, saves to one file and loads it back; dispose it to free the native sessions and modules.
/// </summary>
/// <remarks>
/// <b>Thread safety.</b> Prediction and evaluation are thread-safe: one loaded classifier may be shared by any number of threads
/// (a web service loads it once), each call to <see cref="Predict(string, int)"/>, <see cref="Predict(byte[], int)"/>,
/// <see cref="PredictAsync(IEnumerable{string}, int, IProgress{PredictionProgress}?, CancellationToken)"/> or
/// <see cref="EvaluateAsync"/> getting exactly the answer it gets alone. Concurrent calls share the pool of
/// <see cref="Features.FeaturizerOptions.Parallelism"/> ONNX Runtime sessions (a call waits for a free session) and the read-only head.
/// <see cref="Save"/> may run alongside predictions; <see cref="Dispose"/> must not.
/// </remarks>
public sealed partial class TrainedClassifier : IDisposable
{
    private readonly ImageFeaturizer _featurizer;
    private readonly IClassifierHead _head;
    private readonly bool _ownsFeaturizer;

    /// <summary>The featurizer the head scores the features of.</summary>
    internal ImageFeaturizer Featurizer => _featurizer;

    internal TrainedClassifier(ImageFeaturizer featurizer, bool ownsFeaturizer, IClassifierHead head, string headDescription)
    {
        _featurizer = featurizer;
        _ownsFeaturizer = ownsFeaturizer;
        _head = head;
        HeadDescription = headDescription;
    }

    /// <summary>The class labels, in the order of probability vectors.</summary>
    public IReadOnlyList<string> Classes => _head.Classes;

    /// <summary>The backbone.</summary>
    public BackboneSpec Backbone => _featurizer.Backbone;

    /// <summary>What the head is, for reports (e.g. <c>ML.NET LbfgsMaximumEntropy</c>, <c>TorchSharp FlattenDense256</c>).</summary>
    public string HeadDescription { get; }

    /// <summary>The path that trained the head: <c>ML.NET</c> or <c>TorchSharp</c>.</summary>
    public string TrainingPath => _head.Kind;

    /// <summary>
    /// The per-epoch history of a head trained through TorchSharp (kept in the saved file), or <see langword="null"/> for the ML.NET
    /// path, which fits in one call.
    /// </summary>
    public TrainingSummary? Training => _head.Training;

    /// <summary>Predicts the label of an image file (not cached; for many files use <see cref="PredictAsync(IEnumerable{string}, int, IProgress{PredictionProgress}?, CancellationToken)"/>). Thread-safe.</summary>
    /// <exception cref="InvalidImageException">The file is not a usable image.</exception>
    public ClassPrediction Predict(string imagePath, int topK = 5)
    {
        ArgumentException.ThrowIfNullOrEmpty(imagePath);
        return Predict(FileProbe.ReadRegularFile(imagePath), topK, imagePath);
    }

    /// <summary>Predicts the label of an encoded image (JPEG, PNG, GIF, BMP, WebP). Thread-safe.</summary>
    /// <exception cref="InvalidImageException">The bytes are not a usable image.</exception>
    public ClassPrediction Predict(byte[] imageBytes, int topK = 5) => Predict(imageBytes, topK, "image");

    /// <summary>Evaluates on labelled images: metrics and the error report. Features come from the cache when present.</summary>
    public async Task<EvaluationResult> EvaluateAsync(IReadOnlyList<DatasetItem> items, IProgress<FeaturizationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (items.Count == 0)
        {
            throw new ArgumentException("Nothing to evaluate: the item list is empty.", nameof(items));
        }

        var unknown = items.Select(i => i.Label).Distinct(StringComparer.Ordinal).Where(l => !Classes.Contains(l, StringComparer.Ordinal)).ToArray();
        if (unknown.Length > 0)
        {
            throw new ArgumentException($"The items carry labels the classifier was not trained on: {string.Join(", ", unknown.Take(10))}.", nameof(items));
        }

        var watch = Stopwatch.StartNew();
        var features = await _featurizer.FeaturizeAsync(items, progress, cancellationToken).ConfigureAwait(false);
        var predictions = Predictions(features, Enumerable.Range(0, features.Items.Count).ToArray());
        watch.Stop();
        if (predictions.Length == 0)
        {
            throw new DatasetException($"None of the {items.Count} images could be decoded; first failure: {(features.Failed.Count > 0 ? features.Failed[0] : null)}");
        }

        return Evaluation(predictions, features.Failed, watch.Elapsed.TotalMilliseconds / items.Count);
    }

    /// <summary>Evaluates on rows of features computed beforehand by this classifier's backbone (an experiment featurizes once for every head).</summary>
    internal EvaluationResult Evaluate(FeatureSet features, IReadOnlyList<int> rows)
    {
        var watch = Stopwatch.StartNew();
        var predictions = Predictions(features, rows);
        return Evaluation(predictions, [], watch.Elapsed.TotalMilliseconds / Math.Max(1, rows.Count));
    }

    /// <summary>
    /// Saves the classifier as one zip file with <c>PokeClassifier/manifest.json</c> (head, classes, feature shape, the backbone's
    /// identity and SHA-256); <see cref="Load"/> reads it back with identical probabilities.
    /// For an ML.NET head the file is also a complete ML.NET model (input column <c>Image</c> of type <c>MLImage</c>; outputs
    /// <c>PredictedLabel</c> and <c>Score</c>) with the backbone's ONNX graph inside, loadable with <c>MLContext.Model.Load</c> in a
    /// process that references only ML.NET packages. For a TorchSharp head (the study's heads, an MLP, fine-tuning) it holds the
    /// head's weights (<c>PokeClassifier/head.safetensors</c>) and needs this library to load; its portable form is an ONNX export.
    /// Every backbone but the ResNet18 shipped with ML.NET's package (converted, imported, fine-tuned, a TorchSharp checkpoint) is
    /// stored in the file too (<c>PokeClassifier/backbone.onnx</c>, ...), so the file stands alone on another machine with empty caches.
    /// </summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = full + $".{Guid.NewGuid():N}.tmp";
        try
        {
            _head.Save(temp, Backbone, SavedManifest.From(this, _head.FeatureShape));
            SavedBackbone.Embed(temp, Backbone);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }

    /// <summary>Loads a classifier saved by <see cref="Save"/>.</summary>
    /// <param name="path">The saved file.</param>
    /// <param name="backbone">The backbone to use; <see langword="null"/> to take it from the file: the shipped ResNet18, the recorded path when it holds the recorded bytes, else the copy stored in the file (written under the cache).</param>
    /// <param name="options">Featurizer options (cache, parallelism); whether features are flip-averaged comes from the file, as the head was trained.</param>
    /// <exception cref="ModelLoadException">The file is not a PokeClassifier model, is damaged, or its backbone cannot be found or does not match.</exception>
    public static TrainedClassifier Load(string path, BackboneSpec? backbone = null, FeaturizerOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new ModelLoadException($"Model file '{path}' does not exist.");
        }

        SavedManifest manifest;
        IClassifierHead head;
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var manifestEntry = zip.GetEntry(SavedManifest.Entry) ?? throw new ModelLoadException($"'{path}' is not a PokeClassifier model (no {SavedManifest.Entry} inside). Plain ML.NET models load with MLContext.Model.Load.");
            using (var s = manifestEntry.Open())
            {
                manifest = JsonSerializer.Deserialize<SavedManifest>(s, SavedManifest.JsonOptions) ?? throw new ModelLoadException($"'{path}': empty manifest.");
            }

            if (manifest.FormatVersion < 1 || manifest.FormatVersion > SavedManifest.LatestFormatVersion)
            {
                throw new ModelLoadException($"'{path}' has format version {manifest.FormatVersion}; this library reads versions 1 to {SavedManifest.LatestFormatVersion}.");
            }

            manifest = SavedBackbone.Extract(zip, manifest, path, options);
            var format = HeadFormats.Find(manifest.HeadKind)
                ?? throw new ModelLoadException(manifest.HeadKind == TorchSharpPackage.HeadKind
                    ? TorchSharpPackage.Missing($"'{path}' holds a head trained through TorchSharp (a custom head or a fine-tuned model); loading it")
                    : $"'{path}' holds a head of kind '{manifest.HeadKind}', which this library does not know (it knows {string.Join(" and ", HeadFormats.Kinds)}).");
            head = format.Load(zip, manifest, path);
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or FormatException or InvalidOperationException or ArgumentException)
        {
            throw new ModelLoadException($"Model file '{path}' is damaged or not a PokeClassifier model: {e.Message}", e);
        }

        try
        {
            var spec = backbone ?? manifest.ResolveBackbone(path);
            var actualHash = ImageFeaturizer.HashFile(spec.ModelPath);
            if (!string.Equals(actualHash, manifest.Backbone.ModelSha256, StringComparison.OrdinalIgnoreCase))
            {
                throw new ModelLoadException($"The backbone file '{spec.ModelPath}' (SHA-256 {actualHash}) is not the one the model was trained with ({manifest.Backbone.Name}, SHA-256 {manifest.Backbone.ModelSha256}).");
            }

            // The head learnt the features of one featurization: the loaded featurizer averages mirror views when it was trained on them.
            var featurizer = new ImageFeaturizer(spec, (options ?? new FeaturizerOptions()) with { FlipAveraging = manifest.FlipAveraging });
            return new TrainedClassifier(featurizer, ownsFeaturizer: true, head, manifest.Head);
        }
        catch
        {
            head.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _head.Dispose();
        if (_ownsFeaturizer)
        {
            _featurizer.Dispose();
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{Backbone.Name} + {HeadDescription}, {Classes.Count} classes";

    private ClassPrediction Predict(byte[] bytes, int topK, string name)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(topK);
        var features = _featurizer.Featurize(bytes, name);
        return Top(_head.Score([features])[0], topK);
    }

    private Prediction[] Predictions(FeatureSet features, IReadOnlyList<int> rows)
    {
        var scores = rows.Count == 0 ? [] : _head.Score(rows.Select(features.Raw).ToArray());
        return rows.Select((row, i) => new Prediction
        {
            Path = features.Items[row].Path,
            TrueLabel = features.Items[row].Label,
            PredictedLabel = Classes[ArgMax(scores[i])],
            Probabilities = scores[i],
        }).ToArray();
    }

    private EvaluationResult Evaluation(Prediction[] predictions, IReadOnlyList<SkippedFile> skipped, double millisecondsPerImage) => new()
    {
        Metrics = Evaluator.ComputeMetrics(Classes, predictions),
        Errors = Evaluator.ComputeErrors(Classes, predictions),
        Predictions = predictions,
        Skipped = skipped,
        MillisecondsPerImage = millisecondsPerImage,
    };

    private static int ArgMax(float[] values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }
}
