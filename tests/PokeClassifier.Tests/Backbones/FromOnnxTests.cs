using Microsoft.ML.OnnxRuntime;
using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Onnx;
using PokeClassifier.Features;
using SkiaSharp;

namespace PokeClassifier.Tests.Backbones;

public sealed class FromOnnxTests
{
    private readonly string _dir = TestImages.NewTempDir("byo");

    private static FeaturizerOptions NoCache => new() { UseCache = false, Parallelism = 1 };

    [Fact]
    public void Given_a_CNN_with_a_symbolic_batch_When_its_spec_is_inferred_Then_names_size_and_feature_shape_come_from_the_model()
    {
        var path = TestBackbones.Pooled(_dir, size: 48, features: 12, name: "mynet");

        var spec = BackboneSpec.FromOnnx(path);

        Assert.Equal("mynet", spec.Name);
        Assert.Equal(path, spec.ModelPath);
        Assert.Equal(("input", "features"), (spec.InputName, spec.OutputName));
        Assert.Equal((48, 48), (spec.InputWidth, spec.InputHeight));
        Assert.Equal([12], spec.FeatureShape);
        Assert.Equal(12, spec.FeatureLength);
        Assert.Equal(ImagePreprocessing.TorchImageNet, spec.Preprocessing);
        Assert.Equal(BackboneEngine.OnnxRuntime, spec.Engine);
        Assert.Empty(spec.WeightSources);
    }

    [Fact]
    public void Given_a_solid_colour_image_When_featurized_in_torch_mode_Then_the_features_equal_the_model_run_on_the_normalised_tensor()
    {
        var path = TestBackbones.Pooled(_dir, size: 32, features: 6);
        using var featurizer = new ImageFeaturizer(BackboneSpec.FromOnnx(path), NoCache);

        var features = featurizer.Featurize(TestImages.SolidPng(32, 32, new SKColor(200, 100, 50)));

        // torch mode: (v / 255 - mean) / std per RGB plane, computed as the library does it (v * (1/255/std) - mean/std).
        float[] mean = [0.485f, 0.456f, 0.406f], std = [0.229f, 0.224f, 0.225f];
        byte[] rgb = [200, 100, 50];
        var tensor = new float[3 * 32 * 32];
        for (var c = 0; c < 3; c++)
        {
            tensor.AsSpan(c * 1024, 1024).Fill((rgb[c] * ((1f / 255f) / std[c])) + (-mean[c] / std[c]));
        }

        using var session = new InferenceSession(path);
        using var value = OrtValue.CreateTensorValueFromMemory(tensor, [1, 3, 32, 32]);
        using var results = session.Run(new RunOptions(), ["input"], [value], ["features"]);
        Assert.Equal(results[0].GetTensorDataAsSpan<float>().ToArray(), features);
    }

    [Fact]
    public void Given_a_model_with_two_outputs_When_no_output_is_named_Then_the_error_lists_them_and_naming_one_works()
    {
        var path = Path.Combine(_dir, "two.onnx");
        new OnnxGraphBuilder("two")
            .AddInput("image", [OnnxDim.Batch, 3, 32, 32])
            .AddNode("GlobalAveragePool", ["image"], ["pooled"])
            .AddNode("Flatten", ["pooled"], ["embedding"])
            .AddNode("Relu", ["image"], ["map"])
            .AddOutput("embedding", [OnnxDim.Batch, 3])
            .AddOutput("map", [OnnxDim.Batch, 3, 32, 32])
            .Save(path);

        var e = Assert.Throws<ModelLoadException>(() => BackboneSpec.FromOnnx(path));
        Assert.Contains("has 2 outputs ('embedding' [batch,3], 'map' [batch,3,32,32]); name the feature output", e.Message, StringComparison.Ordinal);

        var map = BackboneSpec.FromOnnx(path, "map");
        Assert.Equal(("image", "map"), (map.InputName, map.OutputName));
        Assert.Equal([3, 32, 32], map.FeatureShape);
        var missing = Assert.Throws<ModelLoadException>(() => BackboneSpec.FromOnnx(path, "logits"));
        Assert.Contains("has no output 'logits'; its outputs are 'embedding' [batch,3], 'map' [batch,3,32,32]", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_a_channels_last_model_When_inferred_Then_the_error_says_NHWC_and_how_to_export_NCHW()
    {
        var path = Path.Combine(_dir, "nhwc.onnx");
        new OnnxGraphBuilder("nhwc")
            .AddInput("input_1", [OnnxDim.Batch, 224, 224, 3])
            .AddNode("ReduceMean", ["input_1"], ["features"], OnnxAttribute.Ints("axes", 1, 2), OnnxAttribute.Int("keepdims", 0))
            .AddOutput("features", [OnnxDim.Batch, 3])
            .Save(path);

        var e = Assert.Throws<ModelLoadException>(() => BackboneSpec.FromOnnx(path));

        Assert.Contains("input 'input_1' [batch,224,224,3] is channels-last (NHWC); backbones take NCHW [batch,3,height,width]", e.Message, StringComparison.Ordinal);
        Assert.Contains("--inputs-as-nchw", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_a_model_with_symbolic_height_and_width_When_inferred_Then_it_runs_at_224_and_a_trial_run_gives_the_feature_shape()
    {
        var path = Path.Combine(_dir, "dynamic.onnx");
        new OnnxGraphBuilder("dynamic")
            .AddInput("input", [OnnxDim.Batch, 3, OnnxDim.Symbolic("height"), OnnxDim.Symbolic("width")])
            .AddNode("MaxPool", ["input"], ["features"], OnnxAttribute.Ints("kernel_shape", 32, 32), OnnxAttribute.Ints("strides", 32, 32))
            .AddOutput("features", [OnnxDim.Batch, 3, OnnxDim.Symbolic("h"), OnnxDim.Symbolic("w")])
            .Save(path);

        var spec = BackboneSpec.FromOnnx(path);

        Assert.Equal((224, 224), (spec.InputWidth, spec.InputHeight));
        Assert.Equal([3, 7, 7], spec.FeatureShape);
        using var featurizer = new ImageFeaturizer(spec with { InputWidth = 64, InputHeight = 64, FeatureShape = [3, 2, 2], FeatureLength = 12 }, NoCache);
        Assert.Equal(12, featurizer.Featurize(TestImages.SolidPng(10, 10, SKColors.Red)).Length);
        Assert.Equal([1, 3, 2, 2], featurizer.OutputShape);
    }

    [Fact]
    public void Given_models_that_cannot_be_backbones_When_inferred_Then_each_error_names_what_was_expected_and_found()
    {
        var gray = Path.Combine(_dir, "gray.onnx");
        new OnnxGraphBuilder("gray").AddInput("x", [1, 1, 32, 32]).AddNode("Flatten", ["x"], ["y"]).AddOutput("y", [1, 1024]).Save(gray);
        var batched = Path.Combine(_dir, "batched.onnx");
        new OnnxGraphBuilder("batched").AddInput("x", [4, 3, 32, 32]).AddNode("Flatten", ["x"], ["y"]).AddOutput("y", [4, 3072]).Save(batched);
        var corrupt = Path.Combine(_dir, "corrupt.onnx");
        File.WriteAllText(corrupt, "not a model");

        Assert.Contains("input 'x' [1,1,32,32] has 1 channels; a backbone takes 3 (NCHW).", Assert.Throws<ModelLoadException>(() => BackboneSpec.FromOnnx(gray)).Message, StringComparison.Ordinal);
        Assert.Contains("input 'x' [4,3,32,32] has a fixed batch of 4; it must be 1 or symbolic.", Assert.Throws<ModelLoadException>(() => BackboneSpec.FromOnnx(batched)).Message, StringComparison.Ordinal);
        Assert.Contains("could not be loaded by ONNX Runtime", Assert.Throws<ModelLoadException>(() => BackboneSpec.FromOnnx(corrupt)).Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", Assert.Throws<ModelLoadException>(() => BackboneSpec.FromOnnx(Path.Combine(_dir, "none.onnx"))).Message, StringComparison.Ordinal);
    }
}
