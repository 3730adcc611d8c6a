using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Data;
using PokeClassifier.Features;
using TorchSharp;
using static TorchSharp.torch;

namespace PokeClassifier.Tests.Backbones.Torch;

public sealed class TorchBackboneTests
{
    private const int Size = 32;

    public TorchBackboneTests() => TorchTestNetworks.EnsureRegistered();

    private static BackboneSpec TorchSpec(string? weights = null) => new()
    {
        Name = "small-cnn",
        Engine = BackboneEngine.TorchSharp,
        Architecture = TorchTestNetworks.SmallCnn,
        ModelPath = weights ?? TorchTestNetworks.Fixture("small_cnn_zip.pth"),
        InputWidth = Size,
        InputHeight = Size,
        FeatureLength = 16,
        Preprocessing = ImagePreprocessing.TorchImageNet,
    };

    private static DatasetItem[] Items(int perClass, int seed)
    {
        var root = TestImages.ShapesDataset(perClass, seed);
        return Directory.GetDirectories(root).SelectMany(d => Directory.GetFiles(d).Select(f => new DatasetItem { Path = f, Label = Path.GetFileName(d) }))
            .OrderBy(i => i.Path, StringComparer.Ordinal).ToArray();
    }

    /// <summary>The small CNN of the fixture, written as an ONNX graph with the very same weights.</summary>
    private static string OnnxTwin()
    {
        var weights = TorchCheckpoint.Read(TorchTestNetworks.Fixture("small_cnn_zip.pth"));
        try
        {
            var writer = new TestOnnxWriter();
            foreach (var (name, t) in weights.Where(w => !w.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal)))
            {
                writer.Initializer(name, t.shape, t.data<float>().ToArray());
            }

            writer
                .Node("Conv", ["input", "0.weight", "0.bias"], "c0", ("kernel_shape", new long[] { 3, 3 }), ("pads", new long[] { 1, 1, 1, 1 }))
                .Node("BatchNormalization", ["c0", "1.weight", "1.bias", "1.running_mean", "1.running_var"], "bn", ("epsilon", 1e-5f))
                .Node("Relu", ["bn"], "r0")
                .Node("MaxPool", ["r0"], "p0", ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }))
                .Node("Conv", ["p0", "4.weight", "4.bias"], "c1", ("kernel_shape", new long[] { 3, 3 }), ("strides", new long[] { 2, 2 }))
                .Node("Relu", ["c1"], "r1")
                .Node("GlobalAveragePool", ["r1"], "g")
                .Node("Flatten", ["g"], "features", ("axis", 1L));
            var path = Path.Combine(TestImages.NewTempDir("onnx"), "small_cnn.onnx");
            writer.Save(path, "input", [1, 3, Size, Size], "features", [1, 16]);
            return path;
        }
        finally
        {
            foreach (var t in weights.Values)
            {
                t.Dispose();
            }
        }
    }

    [Fact]
    public async Task Given_the_same_weights_as_an_ONNX_graph_and_a_TorchSharp_module_When_featurized_Then_both_engines_give_the_same_features()
    {
        var items = Items(3, 31);
        var onnxSpec = TorchSpec() with { Engine = BackboneEngine.OnnxRuntime, Architecture = null, ModelPath = OnnxTwin() };
        using var onnx = new ImageFeaturizer(onnxSpec, new FeaturizerOptions { UseCache = false, Parallelism = 2 });
        using var torchSharp = new ImageFeaturizer(TorchSpec(), new FeaturizerOptions { UseCache = false, Parallelism = 2 });

        var expected = await onnx.FeaturizeAsync(items);
        var actual = await torchSharp.FeaturizeAsync(items);

        Assert.Equal(onnx.OutputShape, torchSharp.OutputShape);
        Assert.Equal([1, 16], torchSharp.OutputShape);
        Assert.Equal(items.Length, actual.Items.Count);
        for (var i = 0; i < items.Length; i++)
        {
            var error = TorchTestNetworks.RelativeError(expected[i].ToArray(), actual[i].ToArray());
            Assert.True(error < 1e-4, $"{items[i].Path}: relative error {error}");
        }
    }

    [Fact]
    public async Task Given_a_TorchSharp_backbone_When_featurized_twice_Then_the_feature_cache_serves_the_second_run_and_knows_the_architecture()
    {
        var items = Items(2, 32);
        var cache = TestImages.NewTempDir("cache");
        using var featurizer = new ImageFeaturizer(TorchSpec(), new FeaturizerOptions { CacheDirectory = cache, Parallelism = 2 });

        var first = await featurizer.FeaturizeAsync(items);
        var second = await featurizer.FeaturizeAsync(items);

        Assert.Equal(items.Length, first.Computed);
        Assert.Equal(items.Length, second.CacheHits);
        Assert.Equal(0, second.Computed);
        for (var i = 0; i < items.Length; i++)
        {
            Assert.Equal(first[i].ToArray(), second[i].ToArray());
        }

        Assert.NotEqual(ImageFeaturizer.ComputeIdentity(TorchSpec()), ImageFeaturizer.ComputeIdentity(TorchSpec() with { Architecture = "other" }));
    }

    [Fact]
    public async Task Given_two_inference_workers_on_one_module_When_featurizing_Then_the_features_equal_one_at_a_time()
    {
        var items = Items(4, 33);
        using var featurizer = new ImageFeaturizer(TorchSpec(), new FeaturizerOptions { UseCache = false, Parallelism = 2 });

        var parallel = await featurizer.FeaturizeAsync(items);

        for (var i = 0; i < items.Length; i++)
        {
            Assert.Equal(featurizer.Featurize(items[i].Path), parallel[i].ToArray());
        }
    }

    [Fact]
    public void Given_repeated_featurization_When_the_dispose_scope_statistics_are_read_Then_no_tensor_is_left_alive()
    {
        var images = Items(2, 34).Select(i => File.ReadAllBytes(i.Path)).ToArray();
        using var featurizer = new ImageFeaturizer(TorchSpec(), new FeaturizerOptions { UseCache = false, Parallelism = 1 });
        _ = featurizer.Featurize(images[0]); // first-call allocations, if any, are not leaks
        var statistics = DisposeScopeManager.Statistics;
        var live = statistics.ThreadTotalLiveCount;

        foreach (var image in images)
        {
            _ = featurizer.Featurize(image);
        }

        var afterFirst = statistics.ThreadTotalLiveCount;
        var createdInScopes = statistics.CreatedInScopeCount;
        foreach (var image in images)
        {
            _ = featurizer.Featurize(image);
        }

        Assert.Equal(live, afterFirst);
        Assert.Equal(live, statistics.ThreadTotalLiveCount);
        Assert.True(statistics.CreatedInScopeCount > createdInScopes, "the runs create their tensors inside dispose scopes");
    }

    [Fact]
    public void Given_a_spec_that_does_not_fit_When_the_featurizer_is_built_Then_a_ModelLoadException_says_why()
    {
        var unknown = Assert.Throws<ModelLoadException>(() => new ImageFeaturizer(TorchSpec() with { Architecture = "alexnet" }, new FeaturizerOptions { UseCache = false }));
        Assert.All(new[] { "'alexnet'", "densenet201", "resnet18", "resnet50", "vgg16" }, name => Assert.Contains(name, unknown.Message, StringComparison.Ordinal));

        var length = Assert.Throws<ModelLoadException>(() => new ImageFeaturizer(TorchSpec() with { FeatureLength = 17 }, new FeaturizerOptions { UseCache = false }));
        Assert.Contains("[1,16]", length.Message, StringComparison.Ordinal);
        Assert.Contains("FeatureLength = 17", length.Message, StringComparison.Ordinal);

        var wrongWeights = Assert.Throws<ModelLoadException>(() => new ImageFeaturizer(TorchSpec() with { Architecture = "resnet18", FeatureLength = 512 }, new FeaturizerOptions { UseCache = false }));
        Assert.Contains("missing", wrongWeights.Message, StringComparison.Ordinal);
    }
}
