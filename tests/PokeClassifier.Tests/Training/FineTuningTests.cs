using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Data;
using PokeClassifier.Features;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.FineTuning;
using PokeClassifier.Training;
using TorchSharp;
using TorchSharp.PyBridge;
using Xunit.Abstractions;

namespace PokeClassifier.Tests.Training;

public sealed class FineTuningTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Given_15_drawn_classes_and_their_held_out_front_animations_When_ResNet18_is_fine_tuned_Then_it_beats_the_frozen_head_of_the_same_budget_and_exports()
    {
        var drawn = OnnxExportTests.Drawn;
        var (train, test) = drawn.HoldoutFront(classes: 15);
        var cache = TestImages.NewTempDir("finetune-cache");
        var head = CustomHeadOptions.GlobalAveragePoolDense();
        var training = new TrainingOptions { Epochs = 6, BatchSize = 32, LearningRate = 1e-3, Seed = 7 };
        var builder = ImageClassification.FromFolder(drawn.Root).WithFeatureCache(cache).WithSplit(new SplitOptions { Seed = 7 });

        using var frozen = await builder.WithFineTuning(head, training, new FineTuneOptions { UnfreezeLastBlocks = 0, InputSize = 128 }).TrainAsync(train);
        var frozenResult = await frozen.EvaluateAsync(test);
        using var tuned = await builder.WithFineTuning(head, training, new FineTuneOptions { UnfreezeLastBlocks = 2, InputSize = 128 }).TrainAsync(train);
        var tunedResult = await tuned.EvaluateAsync(test);

        output.WriteLine($"frozen (128, head only): accuracy {frozenResult.Metrics.Accuracy:F3}, macro-F1 {frozenResult.Metrics.MacroF1:F3}, {frozen.Training}");
        output.WriteLine($"fine-tuned (128, last 2 blocks): accuracy {tunedResult.Metrics.Accuracy:F3}, macro-F1 {tunedResult.Metrics.MacroF1:F3}, {tuned.Training}");
        Assert.Equal(test.Length, tunedResult.Predictions.Count);
        Assert.True(tunedResult.Metrics.MacroF1 > frozenResult.Metrics.MacroF1, $"fine-tuned macro-F1 {tunedResult.Metrics.MacroF1:F3} vs frozen {frozenResult.Metrics.MacroF1:F3}");
        Assert.True(tunedResult.Metrics.Accuracy >= frozenResult.Metrics.Accuracy);
        Assert.Equal(128, tuned.Backbone.InputWidth);
        Assert.Contains("fine-tuned", tuned.HeadDescription, StringComparison.Ordinal);

        // The fine-tuned classifier exports as one ONNX model that ONNX Runtime runs with the library's probabilities.
        var onnx = Path.Combine(cache, "fine-tuned.onnx");
        tuned.ExportOnnx(onnx);
        OnnxExportTests.AssertSamePredictions(tuned, onnx, test.Where((_, i) => i % 8 == 0).Select(i => i.Path).ToArray());

        // And it saves and loads with the same probabilities, also where the fine-tuned backbone file is not (it travels in the zip).
        var saved = Path.Combine(cache, "fine-tuned.zip");
        tuned.Save(saved);
        var elsewhere = TestImages.NewTempDir("finetune-elsewhere");
        using var loaded = TrainedClassifier.Load(saved, options: new FeaturizerOptions { CacheDirectory = elsewhere });
        var probe = test[3].Path;
        Assert.Equal(tuned.Predict(probe).Top.Select(t => t.Probability), loaded.Predict(probe).Top.Select(t => t.Probability));
        Assert.StartsWith(Path.Combine(cache, "fine-tuned"), tuned.Backbone.ModelPath, StringComparison.Ordinal);
        File.Move(tuned.Backbone.ModelPath, tuned.Backbone.ModelPath + ".moved");
        using var moved = TrainedClassifier.Load(saved, options: new FeaturizerOptions { CacheDirectory = elsewhere });
        Assert.StartsWith(Path.Combine(elsewhere, SavedBackbone.FolderName), moved.Backbone.ModelPath, StringComparison.Ordinal);
        Assert.Equal(tuned.Predict(probe).Top.Select(t => t.Probability), moved.Predict(probe).Top.Select(t => t.Probability));
        Directory.Delete(elsewhere, recursive: true);
        Directory.Delete(cache, recursive: true);
    }

    [Fact]
    public async Task Given_a_TorchSharp_backbone_and_augmentation_When_fine_tuned_Then_only_the_last_blocks_and_the_head_change_and_the_export_matches()
    {
        TorchRuntime.EnsureInitialized();
        var dir = TestImages.NewTempDir("finetune-torch");
        var weights = Path.Combine(dir, "resnet18-random.safetensors");
        using (var module = torchvision.models.resnet18(num_classes: 10))
        {
            module.save_safetensors(weights);
        }

        var spec = BackboneSpec.ResNet18Torch(weights, inputSize: 64) with { WeightSources = [] };
        var drawn = OnnxExportTests.Drawn;
        var items = drawn.Take(drawn.Classes.Take(3), perClass: 6);
        var options = new FineTuneOptions { UnfreezeFrom = "layer4.1.conv1", Augmentation = AugmentationOptions.Default, Threads = 2 };
        using var tuned = await ImageClassification.FromFolder(drawn.Root).WithBackbone(spec).WithFeatureCache(dir)
            .WithFineTuning(CustomHeadOptions.Mlp(0.2, 32), new TrainingOptions { Epochs = 2, BatchSize = 8, Seed = 3, EarlyStopping = null }, options)
            .TrainAsync(items);

        Assert.Equal(2, tuned.Training!.History.Count);

        // Compare the fine-tuned backbone's weights with the original: layer4.1 changed, everything before it did not.
        var original = TorchCheckpoint.Read(weights);
        var model = PokeClassifier.Backbones.Onnx.OnnxModelReader.Read(tuned.Backbone.ModelPath);
        var changed = model.Graph.Initializers.Values.Where(t => original.ContainsKey(t.Name))
            .Where(t => !original[t.Name].data<float>().ToArray().SequenceEqual(t.Floats!)).Select(t => t.Name).ToArray();
        Assert.NotEmpty(changed);
        Assert.All(changed, name => Assert.StartsWith("layer4.1.", name, StringComparison.Ordinal));
        Assert.Contains("layer4.1.conv1.weight", changed);

        var onnx = Path.Combine(dir, "tuned.onnx");
        tuned.ExportOnnx(onnx);
        OnnxExportTests.AssertSamePredictions(tuned, onnx, items.Where((_, i) => i % 4 == 0).Select(i => i.Path).ToArray());
        foreach (var t in original.Values)
        {
            t.Dispose();
        }

        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void Given_invalid_fine_tuning_options_When_validated_Then_every_problem_is_listed()
    {
        var options = new FineTuneOptions { UnfreezeLastBlocks = -1, InputSize = 100, BackboneLearningRate = -1, Augmentation = new AugmentationOptions { CropScaleMin = 0, Brightness = 2 } };

        var problems = HeadConfiguration.FineTune(fineTune: options).Validate();

        var text = string.Join(" ", problems);
        Assert.Contains("UnfreezeLastBlocks", text, StringComparison.Ordinal);
        Assert.Contains("InputSize", text, StringComparison.Ordinal);
        Assert.Contains("BackboneLearningRate", text, StringComparison.Ordinal);
        Assert.Contains("crop scale", text, StringComparison.Ordinal);
        Assert.Contains("Brightness", text, StringComparison.Ordinal);
    }
}
