using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Training;
using SkiaSharp;

namespace PokeClassifier.Tests.Backbones;

/// <summary>The saved model stays pure ML.NET + ONNX for backbones whose preprocessing ML.NET's ExtractPixels cannot express alone.</summary>
public sealed class MLNetSavedModelTests
{
    private const int Size = 32;

    /// <summary>Opaque PNGs drawn at the backbone's input size, so neither ML.NET nor the library resizes and both see the same pixels.</summary>
    private static DatasetItem[] DrawnItems(string root, int perClass)
    {
        var rng = new Random(17);
        var items = new List<DatasetItem>();
        foreach (var shape in new[] { "circle", "square", "triangle" })
        {
            Directory.CreateDirectory(Path.Combine(root, shape));
            for (var i = 0; i < perClass; i++)
            {
                using var bitmap = TestImages.Shape(shape, rng, Size);
                var path = Path.Combine(root, shape, $"{i}.png");
                File.WriteAllBytes(path, TestImages.Encode(bitmap, SKEncodedImageFormat.Png));
                items.Add(new DatasetItem { Path = path, Label = shape });
            }
        }

        return [.. items];
    }

    public static TheoryData<string, PreprocessingMode> Backbones => new()
    {
        { "pooled", PreprocessingMode.Torch },
        { "convmap", PreprocessingMode.Caffe },
        { "pooled", PreprocessingMode.Caffe },
        { "convmap", PreprocessingMode.Torch },
    };

    [Theory]
    [MemberData(nameof(Backbones))]
    public async Task Given_a_small_ONNX_backbone_When_trained_saved_and_loaded_by_plain_MLNet_Then_labels_and_probabilities_match_the_library(string kind, PreprocessingMode mode)
    {
        var dir = TestImages.NewTempDir("mlnet-save");
        var model = kind == "pooled"
            ? TestBackbones.Pooled(dir, size: Size, features: 16, symbolicBatch: true)
            : TestBackbones.ConvMap(dir, size: Size, channels: 24); // [batch,24,1,1]: a conv map, flattened by the head
        var spec = BackboneSpec.FromOnnx(model, preprocessing: ImagePreprocessing.For(mode));
        var items = DrawnItems(Path.Combine(dir, "images"), perClass: 5);

        using var classifier = await ImageClassification.FromFolder(dir)
            .WithBackbone(spec)
            .WithFeaturizer(new PokeClassifier.Features.FeaturizerOptions { UseCache = false, Parallelism = 1 })
            .TrainAsync(items);
        var saved = Path.Combine(dir, "model.zip");
        classifier.Save(saved);

        var ml = new MLContext(seed: 1);
        var loaded = ml.Model.Load(saved, out _);
        var engine = ml.Model.CreatePredictionEngine<ModelInput, ModelOutput>(loaded);
        using var reloaded = TrainedClassifier.Load(saved);
        var agree = 0;
        foreach (var item in items)
        {
            var library = classifier.Predict(item.Path, topK: 3);
            using var image = MLImage.CreateFromFile(item.Path);
            var output = engine.Predict(new ModelInput { Image = image });
            var mlProbabilities = output.Score.Select(s => Math.Max(0, s) / output.Score.Sum(x => Math.Max(0, x))).ToArray();

            Assert.Equal(library.Label, output.PredictedLabel);
            Assert.Equal(library.Probability, mlProbabilities.Max(), 3);
            Assert.Equal(library.Top, reloaded.Predict(item.Path, topK: 3).Top);
            agree += library.Label == item.Label ? 1 : 0;
        }

        Assert.Equal(classifier.Classes, reloaded.Classes);
        Assert.True(agree >= items.Length / 2, $"{mode}/{kind}: {agree} of {items.Length} training images predicted right");
    }

    [Fact]
    public void Given_a_TorchSharp_spec_When_its_image_model_is_built_Then_a_clear_error_says_it_needs_an_ONNX_graph()
    {
        var head = MLNetHead.Train(["a", "b"], ["a", "b"], [[1f, 0f], [0f, 1f]], [2], new MLNetHeadOptions(), 1, CancellationToken.None);
        var e = Assert.Throws<NotSupportedException>(() => head.BuildImageModel(BackboneSpec.ResNet18Torch("/tmp/resnet18-f37072fd.pth")));
        Assert.Contains("runs on TorchSharp; a saved model is ML.NET + ONNX", e.Message, StringComparison.Ordinal);
    }

    public sealed class ModelInput
    {
        [ImageType(Size, Size)]
        public MLImage? Image { get; set; }
    }

    public sealed class ModelOutput
    {
        public string PredictedLabel { get; set; } = string.Empty;

        public float[] Score { get; set; } = [];
    }
}
