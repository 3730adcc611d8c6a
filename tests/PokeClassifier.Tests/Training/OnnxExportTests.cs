using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Onnx;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Data;
using PokeClassifier.Features;
using PokeClassifier.Tests.Backbones.Torch;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace PokeClassifier.Tests.Training;

public sealed class OnnxExportTests
{
    /// <summary>The drawn set the export and fine-tuning tests share (15 classes, four animations of five frames each).</summary>
    internal static DrawnAnimations Drawn => DrawnAnimations.Get(classes: 15, framesPerAnimation: 5);

    /// <summary>A few drawn images of the first <paramref name="classes"/> classes, spanning their animations, in a fixed order.</summary>
    internal static DatasetItem[] Images(int classes, int perClass, int skip = 0) => Drawn.Take(Drawn.Classes.Take(classes), perClass, skip);

    /// <summary>What the exported model's input contract asks for: RGB planes, 0..255, resized to the input size.</summary>
    internal static float[] Pixels(string path, int width, int height)
    {
        var rgba = ImageDecoder.DecodeRgba(File.ReadAllBytes(path), path, width, height);
        var plane = width * height;
        var pixels = new float[3 * plane];
        for (var i = 0; i < plane; i++)
        {
            for (var c = 0; c < 3; c++)
            {
                pixels[(c * plane) + i] = rgba[(i * 4) + c];
            }
        }

        return pixels;
    }

    internal static (float[][] Probabilities, string[] Labels) RunExported(string model, IReadOnlyList<string> images, int width, int height)
    {
        using var session = new InferenceSession(model);
        var batch = images.Select(p => Pixels(p, width, height)).SelectMany(x => x).ToArray();
        using var input = OrtValue.CreateTensorValueFromMemory(batch, [images.Count, 3, height, width]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, ["pixels"], [input], ["probabilities", "label"]);
        var flat = results[0].GetTensorDataAsSpan<float>().ToArray();
        var classes = flat.Length / images.Count;
        var labels = Enumerable.Range(0, images.Count).Select(i => results[1].GetStringElement(i)).ToArray();
        return (Enumerable.Range(0, images.Count).Select(i => flat[(i * classes)..((i + 1) * classes)]).ToArray(), labels);
    }

    internal static void AssertSamePredictions(TrainedClassifier classifier, string model, IReadOnlyList<string> images, double tolerance = 1e-4)
    {
        var (exported, labels) = RunExported(model, images, classifier.Backbone.InputWidth, classifier.Backbone.InputHeight);
        for (var i = 0; i < images.Count; i++)
        {
            var library = classifier.Predict(images[i], topK: classifier.Classes.Count);
            var expected = classifier.Classes.Select(c => library.Top.Single(t => t.Label == c).Probability).ToArray();
            var worst = expected.Zip(exported[i], (e, a) => Math.Abs(e - a)).Max();
            Assert.True(worst <= tolerance, $"{images[i]}: probabilities differ by {worst:E2}");
            Assert.Equal(library.Label, labels[i]);
        }
    }

    [Fact]
    public async Task Given_an_MLNet_classifier_on_ResNet18_When_exported_Then_OnnxRuntime_gives_the_librarys_probabilities_and_labels()
    {
        var cache = TestImages.NewTempDir("export-cache");
        var train = Images(4, perClass: 6);
        var test = Images(4, perClass: 2, skip: 6).Select(i => i.Path).ToArray();
        using var classifier = await ImageClassification.FromFolder(Drawn.Root).WithFeatureCache(cache).TrainAsync(train);
        var path = Path.Combine(cache, "classifier.onnx");

        classifier.ExportOnnx(path);

        AssertSamePredictions(classifier, path, test);
        using var session = new InferenceSession(path);
        Assert.Equal(classifier.Classes, JsonSerializer.Deserialize<string[]>(session.ModelMetadata.CustomMetadataMap[OnnxClassifierExporter.ClassesKey]));
        Assert.Contains("0..255", session.ModelMetadata.CustomMetadataMap[OnnxClassifierExporter.InputKey], StringComparison.Ordinal);
        Assert.Equal([-1L, 3, 224, 224], session.InputMetadata["pixels"].Dimensions.Select(d => (long)d));
        Directory.Delete(cache, recursive: true);
    }

    [Fact]
    public async Task Given_a_classifier_on_flip_averaged_features_When_exported_Then_OnnxRuntime_averages_both_views_and_gives_the_librarys_probabilities()
    {
        var cache = TestImages.NewTempDir("export-flip");
        var train = Images(4, perClass: 6);
        var test = Images(4, perClass: 2, skip: 6).Select(i => i.Path).ToArray();
        using var classifier = await ImageClassification.FromFolder(Drawn.Root)
            .WithFeaturizer(new FeaturizerOptions { CacheDirectory = cache, FlipAveraging = true })
            .TrainAsync(train);
        var path = Path.Combine(cache, "classifier.onnx");

        classifier.ExportOnnx(path);

        AssertSamePredictions(classifier, path, test);
        Directory.Delete(cache, recursive: true);
    }

    [Fact]
    public async Task Given_a_custom_TorchSharp_head_on_frozen_ResNet18_When_exported_Then_OnnxRuntime_gives_the_librarys_probabilities()
    {
        var cache = TestImages.NewTempDir("export-custom");
        var train = Images(3, perClass: 6);
        var test = Images(3, perClass: 2, skip: 6).Select(i => i.Path).ToArray();
        using var classifier = await ImageClassification.FromFolder(Drawn.Root).WithFeatureCache(cache)
            .WithCustomHead(CustomHeadOptions.Mlp(0.3, 64, 32), new TrainingOptions { Epochs = 3, EarlyStopping = null, Seed = 1 })
            .TrainAsync(train);
        var path = Path.Combine(cache, "custom.onnx");

        classifier.ExportOnnx(path, new OnnxExportOptions { LabelName = null });

        using var session = new InferenceSession(path);
        Assert.Equal(["probabilities"], session.OutputMetadata.Keys);
        var probe = test[0];
        using var input = OrtValue.CreateTensorValueFromMemory(Pixels(probe, 224, 224), [1, 3, 224, 224]);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, ["pixels"], [input], ["probabilities"]);
        var exported = results[0].GetTensorDataAsSpan<float>().ToArray();
        var library = classifier.Predict(probe, topK: 3);
        var worst = classifier.Classes.Select((c, i) => Math.Abs(library.Top.Single(t => t.Label == c).Probability - exported[i])).Max();
        Assert.True(worst < 1e-4, $"probabilities differ by {worst:E2}");
        Directory.Delete(cache, recursive: true);
    }

    [Fact]
    public void Given_a_LightGbm_head_When_its_weights_are_asked_for_Then_the_error_says_which_heads_export()
    {
        var context = new Microsoft.ML.MLContext(1);
        var labels = Enumerable.Range(0, 40).Select(i => i % 2 == 0 ? "a" : "b").ToArray();
        var features = labels.Select((l, i) => new[] { l == "a" ? 1f : -1f, i / 40f }).ToArray();
        var head = MLNetHead.Train(["a", "b"], labels, features, [1, 2], new MLNetHeadOptions { Trainer = MLNetTrainer.LightGbm, MaximumIterations = 5 }, 1, default);

        var e = Assert.Throws<NotSupportedException>(() => OnnxClassifierExporter.MLNetLinear(head));

        Assert.Contains("LbfgsMaximumEntropy", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("resnet18", 64)]
    [InlineData("densenet201", 32)]
    [InlineData("vgg16", 32)]
    public void Given_a_torchvision_layout_network_When_written_as_ONNX_Then_OnnxRuntime_computes_its_features(string name, int size)
    {
        TorchRuntime.EnsureInitialized();
        var architecture = TorchArchitecture.Get(name);
        using var module = architecture.Create(10);
        using (no_grad())
        {
            // Non-trivial batch-norm statistics, so that their export is checked too.
            var generator = new Generator(7);
            foreach (var (key, buffer) in module.named_buffers().Where(b => b.name.EndsWith("running_mean", StringComparison.Ordinal) || b.name.EndsWith("running_var", StringComparison.Ordinal)))
            {
                buffer.copy_(key.EndsWith("mean", StringComparison.Ordinal) ? randn(buffer.shape, generator: generator) * 0.1 : rand(buffer.shape, generator: generator) + 0.5);
            }
        }

        var bytes = TorchGraphExporter.Export(name, module, size, size);
        var input = TorchTestNetworks.InputValues(size, size);
        var expected = TorchTestNetworks.Features(architecture, module, size, size);
        using var session = new InferenceSession(bytes);
        var actual = OnnxTorchImporterTests.RunOrt(session, TorchGraphExporter.InputName, TorchGraphExporter.OutputName, input, [1, 3, size, size]);

        Assert.True(TorchTestNetworks.RelativeError(expected, actual) < 1e-4, $"relative error {TorchTestNetworks.RelativeError(expected, actual):E2}");
        using var imported = OnnxTorchImporter.Import(OnnxModelReader.Read(bytes));
        Assert.True(TorchTestNetworks.RelativeError(expected, OnnxTorchImporterTests.RunTorch(imported, input, [1, 3, size, size])) < 1e-5);
    }

    [Fact]
    public async Task Given_a_TorchSharp_backbone_with_an_MLNet_head_When_exported_Then_OnnxRuntime_gives_the_librarys_probabilities()
    {
        TorchRuntime.EnsureInitialized();
        var dir = TestImages.NewTempDir("export-torch");
        var weights = Path.Combine(dir, "resnet18-random.safetensors");
        using (var module = torchvision.models.resnet18(num_classes: 10))
        {
            module.save_safetensors(weights);
        }

        var spec = BackboneSpec.ResNet18Torch(weights, inputSize: 64) with { WeightSources = [] };
        var train = Images(3, perClass: 5);
        var test = Images(3, perClass: 2, skip: 5).Select(i => i.Path).ToArray();
        using var classifier = await ImageClassification.FromFolder(Drawn.Root).WithBackbone(spec).WithoutFeatureCache()
            .WithFeaturizer(new FeaturizerOptions { UseCache = false, Parallelism = 1 }).TrainAsync(train);
        var path = Path.Combine(dir, "classifier.onnx");

        classifier.ExportOnnx(path);

        AssertSamePredictions(classifier, path, test);
        Directory.Delete(dir, recursive: true);
    }
}
