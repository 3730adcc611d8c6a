using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Data;
using TorchSharp;
using TorchSharp.PyBridge;

namespace PokeClassifier.Tests.Backbones.Torch;

public sealed class TorchMLNetSaveTests
{
    [Fact]
    public async Task Given_a_TorchSharp_backbone_with_an_MLNet_head_When_saved_Then_plain_MLNet_loads_it_and_predicts_the_library_labels()
    {
        TorchRuntime.EnsureInitialized();
        var dir = TestImages.NewTempDir("torch-mlnet");
        var weights = Path.Combine(dir, "resnet18-random.safetensors");
        torch.manual_seed(5);
        using (var module = torchvision.models.resnet18(num_classes: 10))
        {
            module.save_safetensors(weights);
        }

        var spec = BackboneSpec.ResNet18Torch(weights, inputSize: 64) with { WeightSources = [] };
        var root = TestImages.ShapesDataset(8, seed: 41, "circle", "square", "triangle");
        using var run = await ImageClassification.FromFolder(root)
            .WithSplit(new SplitOptions { TrainFraction = 0.75, ValidationFraction = 0, TestFraction = 0.25, Seed = 2 })
            .WithBackbone(spec)
            .WithFeatureCache(Path.Combine(dir, "cache"))
            .RunAsync();

        var path = Path.Combine(dir, "model.zip");
        run.Classifier.Save(path);

        var ml = new MLContext();
        var model = ml.Model.Load(path, out _);
        var engine = ml.Model.CreatePredictionEngine<ModelInput, ModelOutput>(model);
        var agree = 0;
        foreach (var item in run.Split.Test)
        {
            using var image = MLImage.CreateFromFile(item.Path);
            var output = engine.Predict(new ModelInput { Image = image });
            agree += output.PredictedLabel == run.Classifier.Predict(item.Path, topK: 1).Label ? 1 : 0;
        }

        // Same weights through the exported ONNX graph; only ML.NET's nearest-pixel resize differs from the library's filter.
        Assert.True(agree >= run.Split.Test.Count - 1, $"{agree} of {run.Split.Test.Count} labels agree");
    }

    public sealed class ModelInput
    {
        [ImageType(64, 64)]
        public MLImage? Image { get; set; }
    }

    public sealed class ModelOutput
    {
        public string PredictedLabel { get; set; } = string.Empty;

        public float[] Score { get; set; } = [];
    }
}
