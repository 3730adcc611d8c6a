using System.IO.Compression;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Microsoft.ML.Transforms.Image;
using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Onnx;
using PokeClassifier.Training.Custom;

namespace PokeClassifier.Training;

/// <summary>
/// The ML.NET transfer path: a multiclass trainer fitted on cached backbone features, and the full image-to-label ML.NET model
/// (resize, pixels, the backbone's ONNX graph, the head) built around it for saving.
/// </summary>
internal sealed class MLNetHead : IClassifierHead
{
    /// <summary>The training path's name, also the manifest's head kind.</summary>
    public const string TrainingPath = "ML.NET";

    /// <summary>The head alone (features in), inside the saved file.</summary>
    internal const string HeadEntry = "PokeClassifier/head.zip";

    internal const string ImageColumn = "Image";
    internal const string FeaturesColumn = "Features";
    internal const string LabelColumn = "Label";
    internal const string ScoreColumn = "Score";
    internal const string PredictedLabelColumn = "PredictedLabel";

    private MLNetHead(MLContext context, ITransformer head, IReadOnlyList<string> classes, int[] featureShape)
    {
        Context = context;
        Head = head;
        Classes = classes;
        FeatureShape = featureShape;
    }

    public MLContext Context { get; }

    /// <summary>Features -> Score (per class, in <see cref="Classes"/> order) and PredictedLabel.</summary>
    public ITransformer Head { get; }

    public IReadOnlyList<string> Classes { get; }

    /// <summary>The L2 weight the head was fitted with (chosen on validation when asked); <see langword="null"/> for LightGbm or a loaded head.</summary>
    public float? L2Regularization { get; init; }

    public int[] FeatureShape { get; }

    public string Kind => TrainingPath;

    public TrainingSummary? Training => null;

    private int FeatureLength => FeatureShape.Aggregate(1, (a, b) => a * b);

    public static MLNetHead Train(IReadOnlyList<string> classes, IReadOnlyList<string> labels, IReadOnlyList<float[]> features, int[] featureShape, MLNetHeadOptions options, int seed, CancellationToken cancellationToken)
    {
        options.Validate();
        if (options.ChooseL2OnValidation && options.Trainer != MLNetTrainer.LightGbm)
        {
            options = ChooseL2(classes, labels, features, featureShape, options, seed, cancellationToken);
        }

        return Fit(classes, labels, features, featureShape, options, seed, cancellationToken);
    }

    /// <summary>The options with the L2 weight that scores the best validation macro-F1 (ties: the stronger regularisation).</summary>
    internal static MLNetHeadOptions ChooseL2(IReadOnlyList<string> classes, IReadOnlyList<string> labels, IReadOnlyList<float[]> features, int[] featureShape, MLNetHeadOptions options, int seed, CancellationToken cancellationToken)
    {
        // Stratified: every fifth row of each class (in a seeded order) is held out; a class with one row stays in training.
        var random = new Random(seed);
        var heldOut = new HashSet<int>();
        foreach (var group in Enumerable.Range(0, labels.Count).GroupBy(i => labels[i], StringComparer.Ordinal))
        {
            var rows = group.OrderBy(_ => random.Next()).ToArray();
            for (var k = 0; k < rows.Length / 5; k++)
            {
                heldOut.Add(rows[k]);
            }
        }

        var fit = Enumerable.Range(0, labels.Count).Where(i => !heldOut.Contains(i)).ToArray();
        var check = heldOut.Order().ToArray();
        if (check.Length == 0 || fit.Select(i => labels[i]).Distinct(StringComparer.Ordinal).Count() < 2)
        {
            return options;
        }

        var index = classes.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
        var truth = check.Select(i => index[labels[i]]).ToArray();
        var bestScore = double.NegativeInfinity;
        var best = options.L2Regularization;
        foreach (var l2 in options.L2Candidates.Order())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var candidate = new MLNetHeadOptions { Trainer = options.Trainer, L2Regularization = l2, MaximumIterations = options.MaximumIterations };
            var head = Fit(classes, fit.Select(i => labels[i]).ToArray(), fit.Select(i => features[i]).ToArray(), featureShape, candidate, seed, cancellationToken);
            var scores = head.Score(check.Select(i => features[i]).ToArray());
            var predicted = scores.Select(s => Array.IndexOf(s, s.Max())).ToArray();
            var f1 = Evaluation.MacroF1Score.Of(truth, predicted, classes.Count);
            if (f1 >= bestScore)
            {
                bestScore = f1;
                best = l2;
            }
        }

        return new MLNetHeadOptions { Trainer = options.Trainer, L2Regularization = best, MaximumIterations = options.MaximumIterations };
    }

    private static MLNetHead Fit(IReadOnlyList<string> classes, IReadOnlyList<string> labels, IReadOnlyList<float[]> features, int[] featureShape, MLNetHeadOptions options, int seed, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var context = new MLContext(seed);
        var data = FeatureView(context, featureShape, labels, features);
        var keys = context.Data.LoadFromEnumerable(classes.Select(c => new KeyRow { Label = c }));

        // The label-to-key mapping is fitted apart from the head, so the saved head needs no Label column at prediction time;
        // key order = class order, so Score[i] is the probability of classes[i].
        var keyed = context.Transforms.Conversion.MapValueToKey(LabelColumn, LabelColumn, keyData: keys).Fit(data).Transform(data);
        var estimator = Trainer(context, options)
            .Append(context.Transforms.Conversion.MapKeyToValue(PredictedLabelColumn, PredictedLabelColumn));
        try
        {
            var head = estimator.Fit(keyed);
            return new MLNetHead(context, head, classes, featureShape) { L2Regularization = options.Trainer == MLNetTrainer.LightGbm ? null : options.L2Regularization };
        }
        catch (InvalidOperationException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }

    public static MLNetHead FromTransformer(MLContext context, ITransformer head, IReadOnlyList<string> classes, int[] featureShape) =>
        new(context, head, classes, featureShape);

    /// <summary>Reads the head of a saved ML.NET-path model.</summary>
    /// <exception cref="ModelLoadException">The file lacks the head.</exception>
    public static MLNetHead Load(ZipArchive zip, SavedManifest manifest, string path)
    {
        var entry = zip.GetEntry(HeadEntry) ?? throw new ModelLoadException($"'{path}' lacks {HeadEntry}.");
        using var stream = new MemoryStream();
        using (var s = entry.Open())
        {
            s.CopyTo(stream);
        }

        stream.Position = 0;
        var context = new MLContext(seed: 0);
        return FromTransformer(context, context.Model.Load(stream, out _), manifest.Classes, manifest.FeatureShape);
    }

    /// <summary>
    /// Writes a complete ML.NET model (image in, <c>PredictedLabel</c> and <c>Score</c> out, the backbone's ONNX graph inside), plus
    /// the head alone and the manifest for the library's fast path.
    /// </summary>
    public void Save(string path, BackboneSpec backbone, SavedManifest manifest)
    {
        // A TorchSharp backbone is written as an ONNX graph first (same weights, same features), so the saved file stays a
        // plain ML.NET + ONNX model; ML.NET embeds the graph's bytes, so the temporary file can go once the model is saved.
        string? exported = null;
        if (backbone.Engine == BackboneEngine.TorchSharp)
        {
            exported = Path.Combine(Path.GetTempPath(), $"pokeclassifier-{Guid.NewGuid():N}.onnx");
            File.WriteAllBytes(exported, TorchSharpPackage.Require($"The TorchSharp backbone '{backbone.Name}'").ExportBackboneGraph(backbone));
            backbone = backbone with
            {
                Engine = BackboneEngine.OnnxRuntime,
                ModelPath = exported,
                InputName = BackboneSpec.ExportInputName,
                OutputName = BackboneSpec.ExportOutputName,
            };
        }

        try
        {
            // The input schema (one MLImage column) cannot be serialised by ML.NET; the model itself records what it reads.
            var (model, _) = BuildImageModel(backbone);
            Context.Model.Save(model, null, path);
        }
        finally
        {
            if (exported is not null)
            {
                File.Delete(exported);
            }
        }

        using var zip = ZipFile.Open(path, ZipArchiveMode.Update);
        var headEntry = zip.CreateEntry(HeadEntry, CompressionLevel.Optimal);
        using (var headStream = headEntry.Open())
        {
            var featureSchema = FeatureView(Context, FeatureShape, [Classes[0]], [new float[FeatureLength]]).Schema;
            Context.Model.Save(Head, featureSchema, headStream);
        }

        manifest.WriteTo(zip);
    }

    /// <summary>Nothing native to free: ML.NET's transformers here hold managed memory only.</summary>
    public void Dispose()
    {
    }

    /// <summary>Class probabilities for each feature vector, normalised to sum to 1.</summary>
    public float[][] Score(IReadOnlyList<float[]> features)
    {
        var labels = Enumerable.Repeat(Classes[0], features.Count).ToArray();
        var scored = Head.Transform(FeatureView(Context, FeatureShape, labels, features));
        var scores = scored.GetColumn<float[]>(ScoreColumn).ToArray();
        foreach (var s in scores)
        {
            Normalise(s);
        }

        return scores;
    }

    /// <summary>
    /// The complete ML.NET model: an <c>Image</c> (MLImage) column in, <c>PredictedLabel</c> and <c>Score</c> out. Pixels are
    /// extracted as 0..255 in the backbone's channel order; a non-trivial scale, mean or std is applied by a small generated ONNX
    /// graph (ML.NET's <c>ExtractPixels</c> cannot do per-channel normalisation), then the mean-image model if any, then the backbone.
    /// </summary>
    /// <exception cref="NotSupportedException">The backbone cannot be expressed as ML.NET + ONNX (another engine, or an output whose size ML.NET cannot know).</exception>
    public (ITransformer Model, DataViewSchema InputSchema) BuildImageModel(BackboneSpec backbone)
    {
        if (backbone.Engine != BackboneEngine.OnnxRuntime)
        {
            throw new NotSupportedException($"Backbone {backbone.Name} runs on {backbone.Engine}; a saved model is ML.NET + ONNX, so it needs the backbone as an ONNX graph (use the backbone's ONNX export, see docs/backbones.md).");
        }

        var p = backbone.Preprocessing;
        if (p.ChannelOrder != ChannelOrder.Rgb && p.ChannelOrder != ChannelOrder.Bgr)
        {
            throw new NotSupportedException($"Channel order {p.ChannelOrder} cannot be expressed in an ML.NET pipeline.");
        }

        var input = Context.Data.LoadFromEnumerable(new[] { new ImageRow { Image = MLImage.CreateFromPixels(1, 1, MLPixelFormat.Rgba32, [255, 255, 255, 255]) } });
        var pixelsColumn = "PixelsForBackbone";
        IEstimator<ITransformer> chain = Context.Transforms.ResizeImages("ResizedImage", backbone.InputWidth, backbone.InputHeight, ImageColumn, ImageResizingEstimator.ResizingKind.Fill)
            .Append(Context.Transforms.ExtractPixels(pixelsColumn, "ResizedImage", orderOfExtraction: p.ChannelOrder == ChannelOrder.Rgb ? ImagePixelExtractingEstimator.ColorsOrder.ARGB : ImagePixelExtractingEstimator.ColorsOrder.ABGR));
        var current = pixelsColumn;
        if (!PreprocessingGraph.IsIdentity(p))
        {
            var graph = PreprocessingGraph.WriteFile(p, backbone.InputWidth, backbone.InputHeight);
            chain = chain.Append(Context.Transforms.CopyColumns(PreprocessingGraph.InputName, current))
                .Append(Context.Transforms.ApplyOnnxModel(PreprocessingGraph.OutputName, PreprocessingGraph.InputName, graph));
            current = PreprocessingGraph.OutputName;
        }

        if (p.MeanImageModelPath is not null)
        {
            var prep = OnnxNames(p.MeanImageModelPath);
            chain = chain.Append(Context.Transforms.CopyColumns(prep.Input, current))
                .Append(Context.Transforms.ApplyOnnxModel(prep.Output, prep.Input, p.MeanImageModelPath));
            current = prep.Output;
        }

        if (current != backbone.InputName)
        {
            chain = chain.Append(Context.Transforms.CopyColumns(backbone.InputName, current));
        }

        chain = chain.Append(Context.Transforms.ApplyOnnxModel(backbone.OutputName, backbone.InputName, backbone.ModelPath))
            .Append(Context.Transforms.CopyColumns(FeaturesColumn, backbone.OutputName));
        var imagePart = chain.Fit(input);
        var seen = imagePart.GetOutputSchema(input.Schema)[FeaturesColumn].Type as VectorDataViewType;
        if (seen is null || seen.Size != FeatureLength)
        {
            throw new NotSupportedException(
                $"Backbone {backbone.Name}: ML.NET reads its output '{backbone.OutputName}' as [{(seen is null ? "?" : string.Join(",", seen.Dimensions))}], not the {FeatureLength} values the head was trained on " +
                "(the model leaves output dimensions symbolic). Export it with fixed output dimensions (only the batch may be symbolic) to save it as an ML.NET model.");
        }

        var model = new TransformerChain<ITransformer>(imagePart, Head);
        return (model, input.Schema);
    }

    private static (string Input, string Output) OnnxNames(string modelPath)
    {
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(modelPath);
        return (session.InputMetadata.Keys.Single(), session.OutputMetadata.Keys.Single());
    }

    internal static IDataView FeatureView(MLContext context, int[] featureShape, IReadOnlyList<string> labels, IReadOnlyList<float[]> features)
    {
        var schema = SchemaDefinition.Create(typeof(FeatureRow));
        schema[FeaturesColumn].ColumnType = new VectorDataViewType(NumberDataViewType.Single, featureShape);
        var rows = labels.Select((l, i) => new FeatureRow { Label = l, Features = features[i] });
        return context.Data.LoadFromEnumerable(rows, schema);
    }

    internal static void Normalise(float[] scores)
    {
        double sum = 0;
        foreach (var s in scores)
        {
            sum += Math.Max(0, s);
        }

        if (sum <= 0)
        {
            Array.Fill(scores, 1f / scores.Length);
            return;
        }

        for (var i = 0; i < scores.Length; i++)
        {
            scores[i] = (float)(Math.Max(0, scores[i]) / sum);
        }
    }

    private static IEstimator<ITransformer> Trainer(MLContext context, MLNetHeadOptions options) => options.Trainer switch
    {
        MLNetTrainer.LbfgsMaximumEntropy => context.MulticlassClassification.Trainers.LbfgsMaximumEntropy(new LbfgsMaximumEntropyMulticlassTrainer.Options
        {
            LabelColumnName = LabelColumn,
            FeatureColumnName = FeaturesColumn,
            L2Regularization = options.L2Regularization,
            MaximumNumberOfIterations = options.MaximumIterations,
        }),
        MLNetTrainer.SdcaMaximumEntropy => context.MulticlassClassification.Trainers.SdcaMaximumEntropy(new SdcaMaximumEntropyMulticlassTrainer.Options
        {
            LabelColumnName = LabelColumn,
            FeatureColumnName = FeaturesColumn,
            L2Regularization = options.L2Regularization,
            MaximumNumberOfIterations = options.MaximumIterations,
            NumberOfThreads = 1,
        }),
        MLNetTrainer.LightGbm => context.MulticlassClassification.Trainers.LightGbm(new Microsoft.ML.Trainers.LightGbm.LightGbmMulticlassTrainer.Options
        {
            LabelColumnName = LabelColumn,
            FeatureColumnName = FeaturesColumn,
            NumberOfIterations = options.MaximumIterations,
            UseSoftmax = true,
            NumberOfThreads = 1,
            Seed = 1,
            Silent = true,
        }),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Trainer, "Unknown trainer."),
    };

    internal sealed class FeatureRow
    {
        public string Label { get; set; } = string.Empty;

        public float[] Features { get; set; } = [];
    }

    private sealed class KeyRow
    {
        public string Label { get; set; } = string.Empty;
    }

    internal sealed class ImageRow
    {
        [ImageType(224, 224)]
        public MLImage? Image { get; set; }
    }
}
