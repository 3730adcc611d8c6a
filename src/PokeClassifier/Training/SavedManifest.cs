using System.Text.Json;
using PokeClassifier.Backbones;
using PokeClassifier.Features;

namespace PokeClassifier.Training;

/// <summary>What a saved model records about itself, next to the ML.NET model inside the file.</summary>
internal sealed record SavedManifest
{
    public static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public int FormatVersion { get; init; } = 1;

    public required string Head { get; init; }

    public required IReadOnlyList<string> Classes { get; init; }

    public required int[] FeatureShape { get; init; }

    public required BackboneRecord Backbone { get; init; }

    public static SavedManifest From(TrainedClassifier classifier, int[] featureShape)
    {
        var b = classifier.Backbone;
        return new SavedManifest
        {
            Head = classifier.HeadDescription,
            Classes = classifier.Classes,
            FeatureShape = featureShape,
            Backbone = new BackboneRecord
            {
                Name = b.Name,
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
                "Pass the backbone to TrainedClassifier.Load, or load the file with MLContext.Model.Load, which needs no external file.");
        }

        return new BackboneSpec
        {
            Name = Backbone.Name,
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

    internal sealed record BackboneRecord
    {
        public required string Name { get; init; }

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
