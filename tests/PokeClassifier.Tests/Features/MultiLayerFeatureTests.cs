using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Onnx;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Data;
using PokeClassifier.Features;
using PokeClassifier.Training.FineTuning;
using PokeClassifier.Training;
using static TorchSharp.torch;

namespace PokeClassifier.Tests.Features;

public sealed class MultiLayerFeatureTests
{
    private static DatasetItem[] Items()
    {
        var root = TestImages.ShapesDataset(2, seed: 31, "circle", "square");
        return Directory.GetDirectories(root).SelectMany(d => Directory.GetFiles(d).Select(f => new DatasetItem { Path = f, Label = Path.GetFileName(d) }))
            .OrderBy(i => i.Path, StringComparer.Ordinal).ToArray();
    }

    [Fact]
    public async Task Given_multi_layer_features_When_ResNet18_featurizes_Then_they_are_its_output_followed_by_the_mean_of_its_last_stages_input()
    {
        var items = Items();
        var cache = TestImages.NewTempDir("multi-layer");
        using var plain = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { CacheDirectory = cache });
        using var multi = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { CacheDirectory = cache, MultiLayerFeatures = true });

        var a = await plain.FeaturizeAsync(items);
        var b = await multi.FeaturizeAsync(items);

        Assert.Equal(768, multi.Backbone.FeatureLength);
        Assert.NotEqual(plain.Identity, multi.Identity);
        Assert.Equal(items.Length, b.Computed);

        // The stage tensor as TorchSharp computes it on the imported graph, averaged over its map.
        TorchRuntime.EnsureInitialized();
        var graph = BackboneGraph.For(BackboneSpec.ResNet18);
        var (stage, channels) = MultiLayerModel.LastStageInput(graph, 512)!.Value;
        Assert.Equal(256, channels);
        using var module = OnnxTorchImporter.Import(graph.Model, graph.OutputName, graph.Source);
        var images = FineTuneImages.Load(items, ["circle", "square"], 224, 2, 1L << 24, default);
        using var tensorizer = new ImageTensorizer(BackboneSpec.ResNet18.Preprocessing, 224);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        module.eval();
        var pooled = module.RunPrefix(tensorizer.Batch(images, [.. Enumerable.Range(0, images.Count)], null, new Random(1)), module.IndexOf(stage) + 1)[stage].mean([2, 3]);
        for (var i = 0; i < items.Length; i++)
        {
            var features = b[i].ToArray();
            Assert.Equal(768, features.Length);
            Assert.True(a[i].ToArray().Zip(features.Take(512), (x, y) => Math.Abs(x - y)).Max() < 1e-4f);
            var expected = pooled[i].data<float>().ToArray();
            var largest = expected.Max(Math.Abs);
            Assert.True(expected.Zip(features.Skip(512), (x, y) => Math.Abs(x - y)).Max() <= 1e-4f * Math.Max(1, largest));
        }
    }

    [Fact]
    public async Task Given_a_classifier_on_multi_layer_features_When_saved_and_loaded_with_an_empty_cache_Then_it_predicts_the_same()
    {
        var root = TestImages.ShapesDataset(2, seed: 33, "circle", "square");
        var dataset = await ImageDataset.FromFolderAsync(root);
        var items = dataset.Items.ToArray();
        var cache = TestImages.NewTempDir("multi-layer-save");
        using var classifier = await ImageClassification.From(dataset)
            .WithFeaturizer(new FeaturizerOptions { CacheDirectory = cache, MultiLayerFeatures = true })
            .WithMLNetHead()
            .TrainAsync(items);
        var file = Path.Combine(TestImages.NewTempDir("multi-layer-model"), "model.zip");
        classifier.Save(file);
        var expected = classifier.Predict(items[0].Path, 2).Top.Select(t => t.Probability).ToArray();
        Directory.Delete(cache, recursive: true);

        using var loaded = TrainedClassifier.Load(file, options: new FeaturizerOptions { CacheDirectory = TestImages.NewTempDir("multi-layer-empty") });

        Assert.Equal(768, loaded.Backbone.FeatureLength);
        Assert.Equal(expected, loaded.Predict(items[0].Path, 2).Top.Select(t => t.Probability).ToArray());
    }

    [Fact]
    public void Given_a_graph_with_no_convolution_as_wide_as_its_output_When_its_last_stage_is_sought_Then_there_is_none()
    {
        var builder = new OnnxGraphBuilder("test", 13);
        builder.AddInput("input", [OnnxDim.Batch, 3, 8, 8]);
        builder.AddInitializer("w", [8, 3, 3, 3], new float[8 * 3 * 3 * 3]);
        builder.AddNamedNode("Conv", "conv", ["input", "w"], ["c"]);
        builder.AddNamedNode("GlobalAveragePool", "pool", ["c"], ["features"]);
        builder.AddOutput("features", [OnnxDim.Batch, 8, 1, 1]);
        var graph = new BackboneGraph(OnnxModelReader.Read(builder.ToBytes()), "input", "features", "test");

        Assert.Null(MultiLayerModel.LastStageInput(graph, 16));
        Assert.Equal(("input", 3), MultiLayerModel.LastStageInput(graph, 8));
    }
}
