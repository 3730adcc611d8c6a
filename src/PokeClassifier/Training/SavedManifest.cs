using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Serialization;
using PokeClassifier.Backbones;
using PokeClassifier.Features;
using PokeClassifier.Training.Custom;

namespace PokeClassifier.Training;

/// <summary>
/// What a saved model records about itself (<c>PokeClassifier/manifest.json</c>), next to the head's own entries: the ML.NET model
/// for the ML.NET path (format 1), the head's weights for the TorchSharp path (format 2, which older versions refuse by number).
/// </summary>
internal sealed record SavedManifest
{
    /// <summary>The manifest's entry in the zip.</summary>
    public const string Entry = "PokeClassifier/manifest.json";

    /// <summary>The newest format this version reads.</summary>
    public const int LatestFormatVersion = 2;

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public int FormatVersion { get; init; } = 1;

    /// <summary>The head's description for reports.</summary>
    public required string Head { get; init; }

    /// <summary>The training path that made the head (<c>ML.NET</c> or <c>TorchSharp</c>); absent, and so ML.NET, in format 1.</summary>
    public string HeadKind { get; init; } = MLNetHead.TrainingPath;

    /// <summary>The TorchSharp head's architecture (format 2).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public CustomHeadRecord? CustomHead { get; init; }

    /// <summary>The TorchSharp head's training history (format 2).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public TrainingSummary? Training { get; init; }

    public required IReadOnlyList<string> Classes { get; init; }

    public required int[] FeatureShape { get; init; }

    public required BackboneRecord Backbone { get; init; }

    /// <summary>Whether the head was trained on flip-averaged features, so that the loaded featurizer averages them too (absent in older files: no).</summary>
    public bool FlipAveraging { get; init; }

    public static SavedManifest From(TrainedClassifier classifier, int[] featureShape)
    {
        var b = classifier.Backbone;
        return new SavedManifest
        {
            Head = classifier.HeadDescription,
            Classes = classifier.Classes,
            FeatureShape = featureShape,
            FlipAveraging = classifier.Featurizer.FlipAveraging,
            Backbone = new BackboneRecord
            {
                Name = b.Name,
                Engine = b.Engine,
                Architecture = b.Engine == BackboneEngine.TorchSharp ? b.Architecture : null,
                Embedded = SavedBackbone.EntryFor(b),
                ModelPath = b.ModelPath,
                ModelSha256 = ImageFeaturizer.HashFile(b.ModelPath),
                InputName = b.InputName,
                OutputName = b.OutputName,
                InputWidth = b.InputWidth,
                InputHeight = b.InputHeight,
                FeatureLength = b.FeatureLength,
                FeatureShape = [.. b.FeatureShape],
                ChannelOrder = b.Preprocessing.ChannelOrder,
                PixelScale = b.Preprocessing.PixelScale,
                Mean = [.. b.Preprocessing.Mean],
                Std = [.. b.Preprocessing.Std],
                MeanImageModelPath = b.Preprocessing.MeanImageModelPath,
            },
        };
    }

    public void WriteTo(ZipArchive zip)
    {
        var entry = zip.CreateEntry(Entry, CompressionLevel.Optimal);
        using var stream = entry.Open();
        JsonSerializer.Serialize(stream, this, JsonOptions);
    }

    public BackboneSpec ResolveBackbone(string modelFile)
    {
        if (Backbone.Name == "ResNet18")
        {
            try
            {
                var builtIn = BackboneSpec.ResNet18;
                if (string.Equals(ImageFeaturizer.HashFile(builtIn.ModelPath), Backbone.ModelSha256, StringComparison.OrdinalIgnoreCase))
                {
                    return builtIn;
                }
            }
            catch (ModelLoadException)
            {
                // fall through to the recorded path
            }
        }

        if (!File.Exists(Backbone.ModelPath))
        {
            throw new ModelLoadException(
                $"'{modelFile}' was trained on backbone {Backbone.Name} from '{Backbone.ModelPath}' (SHA-256 {Backbone.ModelSha256}), which is not on this machine. " +
                (HeadFormats.Find(HeadKind)?.MissingBackboneAdvice ?? "Pass the backbone to TrainedClassifier.Load (--backbone on the command line)."));
        }

        return new BackboneSpec
        {
            Name = Backbone.Name,
            Engine = Backbone.Engine,
            Architecture = Backbone.Architecture,
            ModelPath = Backbone.ModelPath,
            InputName = Backbone.InputName,
            OutputName = Backbone.OutputName,
            InputWidth = Backbone.InputWidth,
            InputHeight = Backbone.InputHeight,
            FeatureLength = Backbone.FeatureLength,
            FeatureShape = Backbone.FeatureShape ?? [Backbone.FeatureLength],
            Preprocessing = new ImagePreprocessing
            {
                ChannelOrder = Backbone.ChannelOrder,
                PixelScale = Backbone.PixelScale,
                Mean = Backbone.Mean,
                Std = Backbone.Std,
                MeanImageModelPath = Backbone.MeanImageModelPath,
            },
        };
    }

    /// <summary>A TorchSharp head's architecture, enough to rebuild the module before loading its weights.</summary>
    internal sealed record CustomHeadRecord
    {
        [JsonConverter(typeof(JsonStringEnumConverter<CustomHeadKind>))]
        public CustomHeadKind Kind { get; init; }

        public int[] HiddenSizes { get; init; } = [];

        public double Dropout { get; init; }

        public static CustomHeadRecord From(CustomHeadOptions options) => new() { Kind = options.Kind, HiddenSizes = [.. options.HiddenSizes], Dropout = options.Dropout };

        public CustomHeadOptions ToOptions() => new() { Kind = Kind, HiddenSizes = HiddenSizes, Dropout = Dropout };
    }

    internal sealed record BackboneRecord
    {
        public required string Name { get; init; }

        /// <summary>The engine; absent, and so ONNX Runtime, in files written before TorchSharp backbones were recorded.</summary>
        [JsonConverter(typeof(JsonStringEnumConverter<BackboneEngine>))]
        public BackboneEngine Engine { get; init; } = BackboneEngine.OnnxRuntime;

        /// <summary>The TorchSharp architecture (<c>densenet201</c>, ...); absent for ONNX backbones.</summary>
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? Architecture { get; init; }

        /// <summary>The zip entry holding the backbone file; absent for the shipped ResNet18 and in files written before backbones were stored.</summary>
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? Embedded { get; init; }

        public required string ModelPath { get; init; }

        public required string ModelSha256 { get; init; }

        public required string InputName { get; init; }

        public required string OutputName { get; init; }

        public int InputWidth { get; init; }

        public int InputHeight { get; init; }

        public int FeatureLength { get; init; }

        /// <summary>The spec's feature shape; absent in files written before it existed.</summary>
        public int[]? FeatureShape { get; init; }

        public ChannelOrder ChannelOrder { get; init; }

        public float PixelScale { get; init; }

        public required float[] Mean { get; init; }

        public required float[] Std { get; init; }

        public string? MeanImageModelPath { get; init; }
    }
}
