using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Features;
using PokeClassifier.Tests.Backbones.Torch;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training;

namespace PokeClassifier.Tests.Backbones;

/// <summary>A saved model takes its backbone with it: moved elsewhere, with the weight and feature caches gone, it loads, predicts, evaluates and exports.</summary>
public sealed class SavedModelTravelTests : IDisposable
{
    private readonly LoopbackHttpServer _server = new();
    private readonly string _root = TestImages.NewTempDir("travel");

    public void Dispose()
    {
        _server.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Theory]
    [InlineData("converted", "lbfgs")]
    [InlineData("converted", "gap")]
    [InlineData("torchsharp", "lbfgs")]
    public async Task Given_a_model_on_a_downloaded_backbone_When_the_zip_moves_and_every_cache_is_deleted_Then_load_predict_evaluate_and_export_work(string backboneKind, string head)
    {
        var weights = Path.Combine(_root, "weights");
        var features = Path.Combine(_root, "features");
        using (var module = TestCheckpoints.RandomModule("resnet18", seed: 21))
        {
            var pth = Path.Combine(_root, "resnet18.pth");
            TestCheckpoints.WritePth(module, pth);
            var sha = TestCheckpoints.Sha256(pth);
            _server.ServeFile($"/resnet18-{sha[..8]}.pth", await File.ReadAllBytesAsync(pth));
            File.Delete(pth);
            var catalog = backboneKind == "converted" ? BackboneSpec.Pretrained("resnet18", 32) : BackboneSpec.ResNet18Torch(inputSize: 32);
            var spec = TestCheckpoints.Served(catalog, $"resnet18-{sha[..8]}.pth", _server.Url($"/resnet18-{sha[..8]}.pth"), sha[..8]);
            var dataset = await ImageDataset.FromFolderAsync(TestImages.ShapesDataset(8, seed: 4, "circle", "square", "triangle"));
            var run = await ImageClassification.From(dataset)
                .WithSplit(new SplitOptions { TrainFraction = 0.75, ValidationFraction = 0, TestFraction = 0.25, Seed = 2 })
                .WithBackbone(spec, weightStore: new WeightStoreOptions { CacheDirectory = weights })
                .WithFeaturizer(new FeaturizerOptions { CacheDirectory = features })
                .WithHead(head == "gap" ? HeadConfiguration.Custom(CustomHeadOptions.GlobalAveragePoolDense(), new TrainingOptions { Epochs = 3 }) : HeadConfiguration.MLNet())
                .RunAsync();
            using var trained = run.Classifier;
            var saved = Path.Combine(_root, "here", "model.zip");
            trained.Save(saved);
            var expected = run.Split.Test.Select(i => trained.Predict(i.Path)).ToArray();

            // Another machine: the zip elsewhere, no weights, no converted graph, no features.
            var elsewhere = Path.Combine(_root, "elsewhere", "moved.zip");
            Directory.CreateDirectory(Path.GetDirectoryName(elsewhere)!);
            File.Move(saved, elsewhere);
            Directory.Delete(weights, recursive: true);
            Directory.Delete(features, recursive: true);
            var freshCache = new FeaturizerOptions { CacheDirectory = Path.Combine(_root, "fresh-cache") };

            using var loaded = TrainedClassifier.Load(elsewhere, options: freshCache);
            var actual = run.Split.Test.Select(i => loaded.Predict(i.Path)).ToArray();
            var evaluation = await loaded.EvaluateAsync(run.Split.Test);
            var exported = Path.Combine(_root, "elsewhere", "model.onnx");
            loaded.ExportOnnx(exported);

            Assert.Equal(expected.Select(p => p.Label), actual.Select(p => p.Label));
            Assert.All(expected.Zip(actual), pair => Assert.Equal(pair.First.Probability, pair.Second.Probability, 4));
            Assert.Equal(run.Split.Test.Count, evaluation.Predictions.Count);
            Assert.True(new FileInfo(exported).Length > 1000);
            Assert.False(Directory.Exists(weights));
            Assert.StartsWith(Path.Combine(_root, "fresh-cache", "backbones"), loaded.Backbone.ModelPath, StringComparison.Ordinal);
            Assert.Equal(1, _server.Hits($"/resnet18-{sha[..8]}.pth"));
        }
    }
}
