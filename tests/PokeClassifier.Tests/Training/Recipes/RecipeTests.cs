using System.Diagnostics;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Features;
using PokeClassifier.Training.Budget;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.FineTuning;
using PokeClassifier.Training;
using SkiaSharp;
using Xunit.Abstractions;

namespace PokeClassifier.Tests.Training.Recipes;

/// <summary>The recipes of docs/recipes.md on drawn images: flip-averaged features, time budgets, the recommended fine-tuning, knobs.</summary>
[Collection(LibTorchThreads.Name)]
public sealed class RecipeTests(ITestOutputHelper output)
{
    [Fact]
    public void Given_flip_averaging_When_an_image_is_featurized_Then_its_features_are_the_mean_of_the_image_and_its_mirror_image()
    {
        var dir = TestImages.NewTempDir("flip");
        using var bitmap = TestImages.Shape("triangle", new Random(3), 224);
        var original = Path.Combine(dir, "original.png");
        File.WriteAllBytes(original, TestImages.Encode(bitmap, SKEncodedImageFormat.Png));
        using var mirrored = new SKBitmap(bitmap.Width, bitmap.Height);
        using (var canvas = new SKCanvas(mirrored))
        {
            canvas.Scale(-1, 1, bitmap.Width / 2f, 0);
            canvas.DrawBitmap(bitmap, 0, 0);
        }

        var mirror = Path.Combine(dir, "mirror.png");
        File.WriteAllBytes(mirror, TestImages.Encode(mirrored, SKEncodedImageFormat.Png));
        using var plain = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { UseCache = false });
        using var flipping = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { UseCache = false, FlipAveraging = true });

        var a = plain.Featurize(original);
        var b = plain.Featurize(mirror);
        var averaged = flipping.Featurize(original);

        Assert.NotEqual(a, b);
        Assert.Equal(a.Length, averaged.Length);
        for (var i = 0; i < a.Length; i++)
        {
            Assert.Equal((a[i] + b[i]) / 2, averaged[i], 4);
        }

        Assert.NotEqual(plain.Identity, flipping.Identity);
    }

    [Fact]
    public async Task Given_a_one_minute_budget_When_running_Then_the_run_reports_its_plan_and_ends_near_the_budget()
    {
        var root = TestImages.ShapesDataset(10, seed: 12, "circle", "square", "triangle");
        var budget = new TrainingBudget(TimeSpan.FromSeconds(60));
        var watch = Stopwatch.StartNew();

        using var run = await ImageClassification.FromFolder(root)
            .WithSplit(new SplitOptions { TrainFraction = 0.7, ValidationFraction = 0, TestFraction = 0.3, Seed = 3 })
            .WithFeatureCache(TestImages.NewTempDir("budget-cache"))
            .WithTimeBudget(budget)
            .RunAsync();

        output.WriteLine($"{run.Plan}; {watch.Elapsed.TotalSeconds:0.0} s; macro-F1 {run.Metrics.MacroF1:0.000}; {run.Classifier.Training?.StopReason}");
        Assert.NotNull(run.Plan);
        Assert.True(run.Plan!.MeasuredTrainImagesPerSecond > 0);
        Assert.False(string.IsNullOrWhiteSpace(run.Plan.Recipe));
        // The plan is made from throughput measured at the start; tests share the machine with each other, so the bound here is
        // loose. The budget-plus-10-percent target is measured on a quiet machine by bench/accuracy (docs/benchmarks.md).
        Assert.True(watch.Elapsed <= budget.Time * 1.5, $"{watch.Elapsed.TotalSeconds:0.0} s for a budget of {budget}: {run.Plan}");
        Assert.True(run.Metrics.MacroF1 > 0.8, $"macro-F1 {run.Metrics.MacroF1} with {run.Plan}");
    }

    [Fact]
    public async Task Given_the_recommended_fine_tuning_with_one_seed_When_run_twice_Then_the_probabilities_are_identical_and_the_history_has_the_warm_up()
    {
        var root = TestImages.ShapesDataset(6, seed: 21, "circle", "cross");
        var dataset = await ImageDataset.FromFolderAsync(root);
        var head = HeadConfiguration.FineTune(
            CustomHeadOptions.GlobalAveragePoolDense(),
            TrainingOptions.RecommendedFineTune with { Epochs = 1 },
            FineTuneOptions.Recommended with { InputSize = 64, HeadWarmupEpochs = 2 });

        async Task<float[]> Probabilities()
        {
            using var classifier = await ImageClassification.From(dataset).WithoutFeatureCache().WithHead(head).TrainAsync(dataset.Items);
            Assert.Single(classifier.Training!.History);
            return dataset.Items.Take(4).SelectMany(i => classifier.Predict(i.Path, 2).Top.Select(t => t.Probability)).ToArray();
        }

        var first = await Probabilities();
        var second = await Probabilities();

        Assert.Equal(first, second);
    }

    [Fact]
    public async Task Given_the_cached_recipe_with_mirror_views_When_run_twice_with_one_seed_Then_the_probabilities_are_identical_and_the_classifier_averages_both_views()
    {
        var root = TestImages.ShapesDataset(6, seed: 23, "circle", "cross", "square");
        var dataset = await ImageDataset.FromFolderAsync(root);
        var head = HeadConfiguration.FineTune(
            CustomHeadOptions.GlobalAveragePoolDense(),
            TrainingOptions.RecommendedCachedFineTune with { Epochs = 2, BatchSize = 8 },
            FineTuneOptions.RecommendedCached with { InputSize = 64, HeadWarmupEpochs = 2 });

        async Task<(float[] Probabilities, string Identity)> Train()
        {
            using var classifier = await ImageClassification.From(dataset).WithoutFeatureCache().WithHead(head).TrainAsync(dataset.Items);
            Assert.Equal(2, classifier.Training!.History.Count);
            var probabilities = dataset.Items.Take(4).SelectMany(i => classifier.Predict(i.Path, 3).Top.Select(t => t.Probability)).ToArray();

            // Saved and loaded, the classifier still averages both views and predicts the same.
            var file = Path.Combine(TestImages.NewTempDir("cached-recipe"), "model.zip");
            classifier.Save(file);
            using var loaded = TrainedClassifier.Load(file);
            Assert.True(loaded.Featurizer.FlipAveraging);
            var again = dataset.Items.Take(4).SelectMany(i => loaded.Predict(i.Path, 3).Top.Select(t => t.Probability)).ToArray();
            Assert.True(probabilities.Zip(again, (a, b) => Math.Abs(a - b)).Max() < 1e-4f);

            // Exported, the fine-tuned backbone runs on both views too.
            var onnx = Path.Combine(Path.GetDirectoryName(file)!, "model.onnx");
            classifier.ExportOnnx(onnx);
            OnnxExportTests.AssertSamePredictions(classifier, onnx, [.. dataset.Items.Take(4).Select(i => i.Path)]);
            return (probabilities, classifier.Featurizer.Identity);
        }

        var first = await Train();
        var second = await Train();

        Assert.Equal(first.Probabilities, second.Probabilities);
        Assert.EndsWith("-hflip", first.Identity, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_knobs_When_applied_to_each_kind_of_head_Then_they_land_in_its_options_or_are_refused_by_name()
    {
        var knobs = new TrainingOverrides { Epochs = 3, LearningRate = 0.01, BatchSize = 8, LabelSmoothing = 0.2 };
        var fineTuneKnobs = knobs with { InputSize = 96, Augment = false, UnfreezeLastBlocks = 1 };

        var custom = (CustomHeadConfiguration)HeadConfiguration.Custom().WithOverrides(knobs);
        var fineTune = (FineTuneHeadConfiguration)HeadConfiguration.FineTune(fineTune: FineTuneOptions.Recommended).WithOverrides(fineTuneKnobs);
        var mlnet = Assert.Throws<ArgumentException>(() => HeadConfiguration.MLNet().WithOverrides(knobs));
        var onFeatures = Assert.Throws<ArgumentException>(() => HeadConfiguration.Custom().WithOverrides(fineTuneKnobs));

        Assert.Equal((3, 0.01, 8, 0.2), (custom.Training.Epochs, custom.Training.LearningRate, custom.Training.BatchSize, custom.Training.LabelSmoothing));
        Assert.Equal((96, (AugmentationOptions?)null, 1), (fineTune.FineTuning.InputSize, fineTune.FineTuning.Augmentation, fineTune.FineTuning.UnfreezeLastBlocks));
        Assert.Equal(20, fineTune.FineTuning.HeadWarmupEpochs);
        Assert.Contains("--epochs", mlnet.Message, StringComparison.Ordinal);
        Assert.Contains("--input-size", onFeatures.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("--epochs", onFeatures.Message, StringComparison.Ordinal);
        Assert.NotEmpty(HeadConfiguration.FineTune(fineTune: new FineTuneOptions { InputSize = 100 }).Validate());
    }

    [Fact]
    public void Given_a_device_knob_When_applied_Then_the_TorchSharp_loops_train_there_and_an_ML_NET_head_which_fits_on_the_CPU_takes_it_without_complaint()
    {
        var knobs = new TrainingOverrides { Device = ComputeDevice.Cuda(1) };

        var custom = (CustomHeadConfiguration)HeadConfiguration.Custom().WithOverrides(knobs);
        var fineTune = (FineTuneHeadConfiguration)HeadConfiguration.FineTune().WithOverrides(knobs);
        var mlnet = HeadConfiguration.MLNet();

        Assert.Equal(ComputeDevice.Cuda(1), custom.Training.Device);
        Assert.Equal(ComputeDevice.Cuda(1), fineTune.Training.Device);
        Assert.Same(mlnet, mlnet.WithOverrides(knobs));
        Assert.Equal(ComputeDevice.Cpu, ((CustomHeadConfiguration)HeadConfiguration.Custom().WithOverrides(new TrainingOverrides { Epochs = 2 })).Training.Device);
        Assert.Contains("--epochs", Assert.Throws<ArgumentException>(() => mlnet.WithOverrides(knobs with { Epochs = 2 })).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("fast", 300)]
    [InlineData("balanced", 1200)]
    [InlineData("best", 3600)]
    [InlineData("90s", 90)]
    [InlineData("20m", 1200)]
    [InlineData("1.5h", 5400)]
    public void Given_a_budget_text_When_parsed_Then_it_is_the_named_or_written_duration(string text, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), TrainingBudget.Parse(text).Time);

    [Theory]
    [InlineData("soon")]
    [InlineData("10x")]
    [InlineData("5s")]
    [InlineData("-3m")]
    public void Given_a_bad_budget_text_When_parsed_Then_a_format_error_says_what_is_accepted(string text) =>
        Assert.Contains("fast, balanced, best", Assert.ThrowsAny<FormatException>(() => TrainingBudget.Parse(text)).Message.Replace("under the smallest budget of 30 s", "fast, balanced, best", StringComparison.Ordinal), StringComparison.Ordinal);

    [Fact]
    public void Given_features_with_a_class_structure_When_L2_is_chosen_on_validation_Then_the_head_records_a_candidate_weight()
    {
        var train = Custom.Clusters.Make(4, 60, [16], seed: 1, separation: 0.6);
        var head = MLNetHead.Train(train.Classes, train.LabelNames, train.Rows, train.Shape, new MLNetHeadOptions { ChooseL2OnValidation = true, L2Candidates = [0.1f, 100f] }, seed: 1, default);

        Assert.Contains(head.L2Regularization!.Value, new[] { 0.1f, 100f });
        Assert.NotEmpty(new MLNetHeadOptions { ChooseL2OnValidation = true, L2Candidates = [] } is var o ? Problems(o) : []);
    }

    private static string[] Problems(MLNetHeadOptions options)
    {
        try
        {
            options.Validate();
            return [];
        }
        catch (ArgumentException e)
        {
            return [e.Message];
        }
    }
}
