using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using Microsoft.ML;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Evaluation;
using PokeClassifier.Features;

namespace PokeClassifier.Training;

/// <summary>
/// A trained image classifier: a backbone and a head. Predicts labels for image files or bytes, evaluates on labelled images,
/// and saves to one file that is also a plain ML.NET model. Thread-safe for prediction; dispose it to free the native sessions.
/// </summary>
public sealed partial class TrainedClassifier : IDisposable
{
    private const string ManifestEntry = "PokeClassifier/manifest.json";
    private const string HeadEntry = "PokeClassifier/head.zip";
    private const int FormatVersion = 1;
    private readonly ImageFeaturizer _featurizer;
    private readonly MLNetHead _head;
    private readonly bool _ownsFeaturizer;

    internal TrainedClassifier(ImageFeaturizer featurizer, bool ownsFeaturizer, MLNetHead head, string headDescription)
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

    /// <summary>What the head is, for reports (e.g. <c>ML.NET LbfgsMaximumEntropy</c>).</summary>
    public string HeadDescription { get; }

    /// <summary>Predicts the label of an image file.</summary>
    /// <exception cref="InvalidImageException">The file is not a usable image.</exception>
    public ClassPrediction Predict(string imagePath, int topK = 5)
    {
        ArgumentException.ThrowIfNullOrEmpty(imagePath);
        return Predict(File.ReadAllBytes(imagePath), topK, imagePath);
    }

    /// <summary>Predicts the label of an encoded image (JPEG, PNG, GIF, BMP, WebP).</summary>
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
        var raw = Enumerable.Range(0, features.Items.Count).Select(features.Raw).ToArray();
        var scores = raw.Length == 0 ? [] : _head.Score(raw);
        watch.Stop();
        var predictions = features.Items.Select((item, i) => new Prediction
        {
            Path = item.Path,
            TrueLabel = item.Label,
            PredictedLabel = Classes[ArgMax(scores[i])],
            Probabilities = scores[i],
        }).ToArray();
        if (predictions.Length == 0)
        {
            throw new DatasetException($"None of the {items.Count} images could be decoded; first failure: {(features.Failed.Count > 0 ? features.Failed[0] : null)}");
        }

        return new EvaluationResult
        {
            Metrics = Evaluator.ComputeMetrics(Classes, predictions),
            Errors = Evaluator.ComputeErrors(Classes, predictions),
            Predictions = predictions,
            Skipped = features.Failed,
            MillisecondsPerImage = watch.Elapsed.TotalMilliseconds / items.Count,
        };
    }

    /// <summary>
    /// Saves the classifier as one file. The file is a complete ML.NET model (input column <c>Image</c> of type <c>MLImage</c>;
    /// outputs <c>PredictedLabel</c> and <c>Score</c>) with the backbone's ONNX graph inside, loadable with <c>MLContext.Model.Load</c>
    /// in a process that references only ML.NET packages; <see cref="Load"/> reads it back with the library's fast path.
    /// </summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = full + $".{Guid.NewGuid():N}.tmp";
        try
        {
            // The input schema (one MLImage column) cannot be serialised by ML.NET; the model itself records what it reads.
            var (model, _) = _head.BuildImageModel(Backbone);
            _head.Context.Model.Save(model, null, temp);
            using (var zip = ZipFile.Open(temp, ZipArchiveMode.Update))
            {
                var headEntry = zip.CreateEntry(HeadEntry, CompressionLevel.Optimal);
                using (var headStream = headEntry.Open())
                {
                    var featureSchema = MLNetHead.FeatureView(_head.Context, _head.FeatureShape, [Classes[0]], [new float[_head.FeatureShape.Aggregate(1, (a, b) => a * b)]]).Schema;
                    _head.Context.Model.Save(_head.Head, featureSchema, headStream);
                }

                var manifestEntry = zip.CreateEntry(ManifestEntry, CompressionLevel.Optimal);
                using var manifestStream = manifestEntry.Open();
                JsonSerializer.Serialize(manifestStream, SavedManifest.From(this, _head.FeatureShape), SavedManifest.JsonOptions);
            }

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
    /// <param name="backbone">The backbone to use; <see langword="null"/> to resolve it from the file (built-in backbones, or the recorded ONNX path).</param>
    /// <param name="options">Featurizer options (cache, parallelism).</param>
    /// <exception cref="ModelLoadException">The file is not a PokeClassifier model, is damaged, or its backbone cannot be found or does not match.</exception>
    public static TrainedClassifier Load(string path, BackboneSpec? backbone = null, FeaturizerOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new ModelLoadException($"Model file '{path}' does not exist.");
        }

        SavedManifest manifest;
        MLContext context = new(seed: 0);
        ITransformer head;
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var manifestEntry = zip.GetEntry(ManifestEntry) ?? throw new ModelLoadException($"'{path}' is not a PokeClassifier model (no {ManifestEntry} inside). Plain ML.NET models load with MLContext.Model.Load.");
            using (var s = manifestEntry.Open())
            {
                manifest = JsonSerializer.Deserialize<SavedManifest>(s, SavedManifest.JsonOptions) ?? throw new ModelLoadException($"'{path}': empty manifest.");
            }

            if (manifest.FormatVersion != FormatVersion)
            {
                throw new ModelLoadException($"'{path}' has format version {manifest.FormatVersion}; this library reads version {FormatVersion}.");
            }

            var headEntry = zip.GetEntry(HeadEntry) ?? throw new ModelLoadException($"'{path}' lacks {HeadEntry}.");
            using var headStream = new MemoryStream();
            using (var s = headEntry.Open())
            {
                s.CopyTo(headStream);
            }

            headStream.Position = 0;
            head = context.Model.Load(headStream, out _);
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or FormatException or InvalidOperationException)
        {
            throw new ModelLoadException($"Model file '{path}' is damaged or not a PokeClassifier model: {e.Message}", e);
        }

        var spec = backbone ?? manifest.ResolveBackbone(path);
        var actualHash = ImageFeaturizer.HashFile(spec.ModelPath);
        if (!string.Equals(actualHash, manifest.Backbone.ModelSha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new ModelLoadException($"The backbone file '{spec.ModelPath}' (SHA-256 {actualHash}) is not the one the model was trained with ({manifest.Backbone.Name}, SHA-256 {manifest.Backbone.ModelSha256}).");
        }

        var featurizer = new ImageFeaturizer(spec, options);
        return new TrainedClassifier(featurizer, ownsFeaturizer: true, MLNetHead.FromTransformer(context, head, manifest.Classes, manifest.FeatureShape), manifest.Head);
    }

    /// <inheritdoc />
    public void Dispose()
    {
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
        var scores = _head.Score([features])[0];
        var top = scores.Select((p, i) => (Index: i, Probability: p))
            .OrderByDescending(x => x.Probability).ThenBy(x => x.Index)
            .Take(Math.Min(topK, Classes.Count))
            .Select(x => new LabelProbability { Label = Classes[x.Index], Probability = x.Probability })
            .ToArray();
        return new ClassPrediction { Label = top[0].Label, Probability = top[0].Probability, Top = top };
    }

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
