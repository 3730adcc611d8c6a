using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Features;

namespace PokeClassifier.Tests.Backbones;

public sealed class BackboneCatalogTests
{
    public static TheoryData<string, int, int[], string> Shapes => new()
    {
        { "densenet201-onnx", 224, [1920], "densenet201-224.onnx" },
        { "densenet201-onnx", 96, [1920], "densenet201-96.onnx" },
        { "vgg16-onnx", 224, [512, 7, 7], "vgg16-keras-224.onnx" },
        { "vgg16-onnx", 160, [512, 5, 5], "vgg16-keras-160.onnx" },
        { "resnet18-onnx", 128, [512], "resnet18-torchvision-128.onnx" },
        { "densenet201-torch", 224, [1920], "densenet201-c1103571.pth" },
        { "vgg16-torch", 64, [512, 2, 2], "vgg16-397923af.pth" },
        { "resnet18-torch", 32, [512], "resnet18-f37072fd.pth" },
    };

    private static BackboneSpec Make(string kind, int size) => kind switch
    {
        "densenet201-onnx" => BackboneSpec.DenseNet201Onnx(inputSize: size),
        "vgg16-onnx" => BackboneSpec.VGG16Onnx(inputSize: size),
        "resnet18-onnx" => BackboneSpec.ResNet18Onnx(inputSize: size),
        "densenet201-torch" => BackboneSpec.DenseNet201Torch(inputSize: size),
        "vgg16-torch" => BackboneSpec.VGG16Torch(inputSize: size),
        "resnet18-torch" => BackboneSpec.ResNet18Torch(inputSize: size),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Given_a_catalog_backbone_and_an_input_size_When_the_spec_is_built_Then_the_feature_shape_follows_the_size(string kind, int size, int[] shape, string file)
    {
        var spec = Make(kind, size);

        Assert.Equal(shape, spec.FeatureShape);
        Assert.Equal(shape.Aggregate(1, (a, d) => a * d), spec.FeatureLength);
        Assert.Equal((size, size), (spec.InputWidth, spec.InputHeight));
        Assert.Equal(string.Empty, spec.ModelPath);
        var source = Assert.Single(spec.WeightSources);
        Assert.Equal(file, source.FileName);
        spec.Validate();
    }

    [Theory]
    [InlineData("densenet201", "https://download.pytorch.org/models/densenet201-c1103571.pth", "c1103571")]
    [InlineData("vgg16", "https://download.pytorch.org/models/vgg16-397923af.pth", "397923af")]
    [InlineData("resnet18", "https://download.pytorch.org/models/resnet18-f37072fd.pth", "f37072fd")]
    public void Given_a_TorchSharp_spec_Then_it_names_the_architecture_and_the_torchvision_weights_with_their_hash_prefix(string architecture, string url, string prefix)
    {
        var spec = Make(architecture + "-torch", 224);

        Assert.Equal(BackboneEngine.TorchSharp, spec.Engine);
        Assert.Equal(architecture, spec.Architecture);
        Assert.Equal(ImagePreprocessing.TorchImageNet, spec.Preprocessing);
        var source = spec.WeightSources[0];
        Assert.Equal(new Uri(url), source.Url);
        Assert.Equal(prefix, source.Sha256);
        Assert.Equal(WeightFormat.TorchPth, source.Format);
        Assert.Contains($"torchvision.models.{architecture}(weights='IMAGENET1K_V1')", source.HowToProduce, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_VGG16_in_caffe_or_torch_mode_Then_preprocessing_file_and_export_command_follow_the_weights_origin()
    {
        var keras = BackboneSpec.VGG16Onnx();
        var torch = BackboneSpec.VGG16Onnx(preprocessing: PreprocessingMode.Torch);

        Assert.Equal(ChannelOrder.Bgr, keras.Preprocessing.ChannelOrder);
        Assert.Equal([103.939f, 116.779f, 123.68f], keras.Preprocessing.Mean);
        Assert.Equal(1f, keras.Preprocessing.PixelScale);
        Assert.Contains("tf.keras.applications.VGG16(include_top=False", keras.WeightSources[0].HowToProduce, StringComparison.Ordinal);
        Assert.Equal(ImagePreprocessing.TorchImageNet, torch.Preprocessing);
        Assert.Equal("vgg16-torchvision-224.onnx", torch.WeightSources[0].FileName);
        Assert.Contains("model = model.features", torch.WeightSources[0].HowToProduce, StringComparison.Ordinal);
        Assert.Equal(("input", "features"), (keras.InputName, keras.OutputName));
    }

    [Theory]
    [InlineData(100)]
    [InlineData(16)]
    [InlineData(0)]
    public void Given_an_input_size_that_is_not_a_multiple_of_32_When_a_spec_is_built_Then_the_error_says_why(int size)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => BackboneSpec.VGG16Onnx(inputSize: size));
        Assert.Contains("VGG16 takes a square input whose side is a multiple of 32 and at least 32", e.Message, StringComparison.Ordinal);
        Assert.Equal(size, e.ActualValue);
        Assert.Throws<ArgumentOutOfRangeException>(() => BackboneSpec.DenseNet201Torch(inputSize: size));
    }

    [Fact]
    public void Given_a_spec_whose_shape_and_length_disagree_When_validated_Then_every_problem_is_listed()
    {
        var spec = BackboneSpec.VGG16Onnx() with { FeatureLength = 100, InputWidth = 0, ModelPath = string.Empty, WeightSources = [] };
        var e = Assert.Throws<ArgumentException>(spec.Validate);
        Assert.Contains("FeatureShape [512, 7, 7] holds 25088 values but FeatureLength is 100", e.Message, StringComparison.Ordinal);
        Assert.Contains("input size must be positive (was 0 x 224)", e.Message, StringComparison.Ordinal);
        Assert.Contains("ModelPath is empty and there are no WeightSources", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_an_ONNX_catalog_spec_with_no_file_When_a_run_starts_Then_it_fails_with_the_export_command_and_where_to_put_the_file()
    {
        var data = TestImages.ShapesDataset(2, 4, "circle", "square");
        var cache = TestImages.NewTempDir("weights");

        var e = await Assert.ThrowsAsync<WeightsUnavailableException>(() => ImageClassification.FromFolder(data)
            .WithBackbone(BackboneSpec.DenseNet201Onnx(), weightStore: new WeightStoreOptions { CacheDirectory = cache })
            .WithoutFeatureCache()
            .RunAsync());

        Assert.StartsWith("Weights file 'densenet201-224.onnx' is not available: it is not in the cache and it has no download URL.", e.Message, StringComparison.Ordinal);
        Assert.Contains("Expected SHA-256: none known", e.Message, StringComparison.Ordinal);
        Assert.Contains($"Put the file in: {Path.Combine(cache, "densenet201-224.onnx")}", e.Message, StringComparison.Ordinal);
        Assert.Contains("model.classifier = torch.nn.Identity()", e.Message, StringComparison.Ordinal);
        Assert.Contains("torch.onnx.export(model.eval(), torch.zeros(1, 3, size, size), \"densenet201-224.onnx\"", e.Message, StringComparison.Ordinal);
        Assert.Contains("tf.keras.applications.DenseNet201(include_top=False, pooling=\"avg\"", e.Message, StringComparison.Ordinal);

        // The featurizer alone (which never downloads) says the same about the default cache.
        var direct = Assert.Throws<WeightsUnavailableException>(() => new ImageFeaturizer(BackboneSpec.DenseNet201Onnx(inputSize: 32), new FeaturizerOptions { UseCache = false }));
        Assert.Contains("densenet201-32.onnx", direct.Message, StringComparison.Ordinal);
        Assert.Contains("this call does not download", direct.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_DenseNet201_stand_in_export_in_the_weight_cache_When_run_through_the_fluent_API_Then_it_is_found_and_trains()
    {
        // A small real CNN with DenseNet201's export signature: input [batch,3,32,32], output 'features' [batch,1920].
        var cache = TestImages.NewTempDir("weights");
        File.Move(TestBackbones.Pooled(cache, size: 32, features: 1920, name: "standin"), Path.Combine(cache, "densenet201-32.onnx"));
        var data = TestImages.ShapesDataset(6, 8, "circle", "square", "triangle");
        var progress = new List<ClassificationProgress>();

        using var run = await ImageClassification.FromFolder(data)
            .WithSplit(new SplitOptions { TrainFraction = 0.5, ValidationFraction = 0, TestFraction = 0.5, Seed = 3 })
            .WithBackbone(BackboneSpec.DenseNet201Onnx(inputSize: 32), weightStore: new WeightStoreOptions { CacheDirectory = cache, AllowDownload = false })
            .WithoutFeatureCache()
            .RunAsync(new SyncProgress(progress));

        Assert.Equal(Path.Combine(cache, "densenet201-32.onnx"), run.Classifier.Backbone.ModelPath);
        Assert.Equal("DenseNet201 @32", run.Classifier.Backbone.Name);
        Assert.Equal(9, run.Timings.FeaturesComputed);
        Assert.Equal(9, run.Metrics.SampleCount);
        Assert.True(run.Metrics.Accuracy > 1.0 / 3, $"accuracy {run.Metrics.Accuracy}");
        Assert.DoesNotContain(progress, p => p.Stage == ClassificationStage.DownloadingWeights);
    }

    [Fact]
    public void Given_a_VGG16_stand_in_with_a_channels_last_output_When_loaded_against_the_spec_Then_the_error_shows_expected_and_actual_shapes()
    {
        var dir = TestImages.NewTempDir("vgg");
        var good = TestBackbones.ConvMap(dir, size: 64, name: "nchw");
        var channelsLast = TestBackbones.ConvMap(dir, size: 64, name: "nhwc", channelsLast: true);

        using (var featurizer = new ImageFeaturizer(BackboneSpec.VGG16Onnx(good, 64), new FeaturizerOptions { UseCache = false, Parallelism = 1 }))
        {
            Assert.Equal([1, 512, 2, 2], featurizer.OutputShape);
            Assert.Equal(2048, featurizer.Featurize(TestImages.SolidPng(64, 64, SkiaSharp.SKColors.Orange)).Length);
        }

        var e = Assert.Throws<ModelLoadException>(() => new ImageFeaturizer(BackboneSpec.VGG16Onnx(channelsLast, 64), new FeaturizerOptions { UseCache = false, Parallelism = 1 }));
        Assert.Contains("expected input input [batch,3,64,64] and output features [batch,512,2,2] with 2048 values", e.Message, StringComparison.Ordinal);
        Assert.Contains("found input [batch,3,64,64] and output [batch,2,2,512] (2048 values)", e.Message, StringComparison.Ordinal);

        var wrongSize = Assert.Throws<ModelLoadException>(() => new ImageFeaturizer(BackboneSpec.VGG16Onnx(good, 96), new FeaturizerOptions { UseCache = false, Parallelism = 1 }));
        Assert.Contains("The input takes 64 x 64 images, not 96 x 96.", wrongSize.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_the_shipped_ResNet18_Then_its_weight_source_carries_the_checksum_of_the_packaged_file()
    {
        var spec = BackboneSpec.ResNet18;
        var source = Assert.Single(spec.WeightSources);
        Assert.Equal("ResNet18.onnx", source.FileName);
        Assert.True(source.Matches(ImageFeaturizer.HashFile(spec.ModelPath)));
        Assert.Equal([512], spec.FeatureShape);
    }

    private sealed class SyncProgress(List<ClassificationProgress> into) : IProgress<ClassificationProgress>
    {
        public void Report(ClassificationProgress value)
        {
            lock (into)
            {
                into.Add(value);
            }
        }
    }
}
