using System.IO.Compression;
using System.Text.Json;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Experiments;
using PokeClassifier.Reporting;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training;

namespace PokeClassifier.Tests.Training.Custom;

/// <summary>One shapes run with a TorchSharp head on ResNet18 features, shared by the tests that only read it.</summary>
public sealed class CustomPathFixture : IAsyncLifetime
{
    public static readonly SplitOptions Split = new() { TrainFraction = 0.6, ValidationFraction = 0.2, TestFraction = 0.2, Seed = 5 };

    public static readonly TrainingOptions Training = new() { Epochs = 30, BatchSize = 8 };

    public string Root { get; } = TestImages.ShapesDataset(14, seed: 31);

    public string Cache { get; } = TestImages.NewTempDir("custom-cache");

    public ImageDataset Dataset { get; private set; } = null!;

    public ClassificationRun Run { get; private set; } = null!;

    public List<ClassificationProgress> Progress { get; } = [];

    public async Task InitializeAsync()
    {
        Dataset = await ImageDataset.FromFolderAsync(Root);
        Run = await ImageClassification.From(Dataset)
            .WithSplit(Split)
            .WithFeatureCache(Cache)
            .WithCustomHead(CustomHeadOptions.FlattenDense256(), Training)
            .RunAsync(new Recorder(Progress));
    }

    public Task DisposeAsync()
    {
        Run.Dispose();
        return Task.CompletedTask;
    }

    private sealed class Recorder(List<ClassificationProgress> into) : IProgress<ClassificationProgress>
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

public sealed class CustomPathTests(CustomPathFixture fixture) : IClassFixture<CustomPathFixture>
{
    [Fact]
    public void Given_drawn_shapes_When_a_FlattenDense256_head_trains_on_ResNet18_features_Then_test_accuracy_is_far_above_chance_and_the_history_is_kept()
    {
        var run = fixture.Run;
        Assert.Equal("TorchSharp", run.Classifier.TrainingPath);
        Assert.Equal("TorchSharp FlattenDense256", run.Classifier.HeadDescription);
        Assert.Equal(4, run.Metrics.ClassCount);
        Assert.True(run.Metrics.Accuracy >= 0.85, $"accuracy {run.Metrics.Accuracy} (chance 0.25)\n{run.Metrics.ToTable()}\n{run.Classifier.Training?.ToTable()}");

        var training = run.Classifier.Training!;
        Assert.NotEmpty(training.History);
        Assert.All(training.History, e => Assert.NotNull(e.ValidationLoss));
        Assert.Equal(training.History.Count, training.History[^1].Epoch);
        Assert.InRange(training.KeptEpoch, 1, training.History.Count);
        Assert.Equal(1e-3 * Math.Pow(0.9, training.History.Count - 1), training.History[^1].LearningRate, 15);

        var batches = fixture.Progress.Where(p => p.Training is not null).ToArray();
        Assert.NotEmpty(batches);
        Assert.Equal(training.History.Count, batches.Count(p => p.Training!.Value.CompletedEpoch is not null));
        Assert.All(batches, p => Assert.Equal(ClassificationStage.Training, p.Stage));
        Assert.Contains(fixture.Progress, p => p.Stage == ClassificationStage.Featurizing && p.Total == run.Split.Train.Count + run.Split.Validation.Count);
        Assert.Contains($"Training: {training.History.Count} epoch(s)", run.ToReport(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_saved_TorchSharp_classifier_When_loaded_Then_its_predictions_are_identical_and_the_file_holds_the_manifest_and_the_weights()
    {
        var dir = TestImages.NewTempDir("custom-save");
        var path = Path.Combine(dir, "model.zip");
        fixture.Run.Classifier.Save(path);

        using (var zip = ZipFile.OpenRead(path))
        {
            Assert.Equal(["PokeClassifier/head.safetensors", "PokeClassifier/manifest.json"], zip.Entries.Select(e => e.FullName).Order(StringComparer.Ordinal));
            using var manifest = JsonDocument.Parse(zip.GetEntry("PokeClassifier/manifest.json")!.Open());
            Assert.Equal(2, manifest.RootElement.GetProperty("formatVersion").GetInt32());
            Assert.Equal("TorchSharp", manifest.RootElement.GetProperty("headKind").GetString());
            Assert.Equal("FlattenDense256", manifest.RootElement.GetProperty("customHead").GetProperty("kind").GetString());
        }

        using var loaded = TrainedClassifier.Load(path, options: new PokeClassifier.Features.FeaturizerOptions { CacheDirectory = fixture.Cache });
        Assert.Equal(fixture.Run.Classifier.Classes, loaded.Classes);
        Assert.Equal("TorchSharp", loaded.TrainingPath);
        Assert.Equal(fixture.Run.Classifier.HeadDescription, loaded.HeadDescription);
        Assert.Equal(fixture.Run.Classifier.Training!.History, loaded.Training!.History);
        var again = await loaded.EvaluateAsync(fixture.Run.Split.Test);
        for (var i = 0; i < again.Predictions.Count; i++)
        {
            Assert.Equal(fixture.Run.Evaluation.Predictions[i].PredictedLabel, again.Predictions[i].PredictedLabel);
            Assert.Equal(fixture.Run.Evaluation.Predictions[i].Probabilities, again.Predictions[i].Probabilities);
        }

        var item = fixture.Run.Split.Test[0];
        var before = fixture.Run.Classifier.Predict(item.Path);
        var after = loaded.Predict(item.Path);
        Assert.Equal(before, after with { Top = before.Top });
        Assert.Equal(before.Top, after.Top);
    }

    [Fact]
    public async Task Given_an_MLNet_head_and_a_custom_head_When_compared_in_an_experiment_Then_both_have_results_and_the_custom_one_has_a_history()
    {
        var result = await Experiment.For(fixture.Dataset)
            .WithSplit(CustomPathFixture.Split)
            .WithFeatureCache(fixture.Cache)
            .WithMeasurements(predictionSample: 2)
            .Add("mlnet", BackboneSpec.ResNet18, HeadConfiguration.MLNet())
            .Add("torch", BackboneSpec.ResNet18, HeadConfiguration.Custom(CustomHeadOptions.GlobalAveragePoolDense(), new TrainingOptions { Epochs = 30, BatchSize = 8, LearningRate = 1e-2 }))
            .RunAsync();

        var mlnet = result.Configurations.Single(c => c.Name == "mlnet");
        var torch = result.Configurations.Single(c => c.Name == "torch");
        Assert.Equal(("ML.NET", "TorchSharp"), (mlnet.TrainingPath, torch.TrainingPath));
        Assert.Equal("TorchSharp GlobalAveragePoolDense", torch.Head);
        Assert.Empty(mlnet.TrainingHistory);
        Assert.NotEmpty(torch.TrainingHistory);
        Assert.All(torch.TrainingHistory, e => Assert.NotNull(e.ValidationAccuracy));
        Assert.Equal(torch.TrainingHistory, torch.Folds[0].TrainingHistory);
        Assert.Equal(mlnet.Metrics.SampleCount, torch.Metrics.SampleCount);
        Assert.True(mlnet.Metrics.Accuracy >= 0.8, $"ML.NET accuracy {mlnet.Metrics.Accuracy}");
        Assert.True(torch.Metrics.Accuracy >= 0.8, $"TorchSharp accuracy {torch.Metrics.Accuracy}");
        Assert.Equal(0, torch.Timings.FeaturesComputed);
        Assert.True(torch.ModelSizeBytes > 0);

        var html = ExperimentReport.ToHtml(result);
        Assert.Contains("Learning rate per epoch", html, StringComparison.Ordinal);
        Assert.Contains("No history (ML.NET heads fit in one call): mlnet", html, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(ExperimentReport.ToJson(result with
        {
            Configurations = [mlnet, torch with { TrainingHistory = [.. torch.TrainingHistory, torch.TrainingHistory[^1] with { Epoch = 99, TrainLoss = double.NaN }] }],
        }));
        var history = json.RootElement.GetProperty("configurations")[1].GetProperty("trainingHistory");
        Assert.Equal(torch.TrainingHistory.Count + 1, history.GetArrayLength());
        Assert.Equal(JsonValueKind.Null, history[torch.TrainingHistory.Count].GetProperty("trainLoss").ValueKind);
    }

    [Fact]
    public async Task Given_k_fold_without_a_validation_set_When_a_custom_head_trains_Then_a_share_of_each_training_fold_is_held_out_for_validation()
    {
        var progress = new List<ExperimentProgress>();
        var result = await Experiment.For(fixture.Dataset)
            .WithKFold(2, seed: 9)
            .WithFeatureCache(fixture.Cache)
            .WithMeasurements(predictionSample: 0, measureModelSize: false)
            .Add("torch", BackboneSpec.ResNet18, HeadConfiguration.Custom(CustomHeadOptions.GlobalAveragePoolDense(), new TrainingOptions { Epochs = 5, ValidationFraction = 0.25 }))
            .RunAsync(new Inline(progress.Add));

        var torch = result.Configurations.Single();
        Assert.Equal(2, torch.Folds.Count);
        Assert.All(torch.Folds, f => Assert.NotEmpty(f.TrainingHistory));
        Assert.All(torch.Folds.SelectMany(f => f.TrainingHistory), e => Assert.NotNull(e.ValidationLoss));
        Assert.Equal(fixture.Dataset.Items.Count, torch.Metrics.SampleCount);
        Assert.Contains(progress, p => p.Stage == ExperimentStage.Training && p.Training is { CompletedEpoch: not null });

        var (train, validation) = Splitter.Holdout(fixture.Dataset.Items, 0.25, 9);
        Assert.Equal(fixture.Dataset.Items.Count, train.Count + validation.Count);
        Assert.All(fixture.Dataset.Classes, c => Assert.Equal(4, validation.Count(i => i.Label == c)));
    }

    [Fact]
    public async Task Given_invalid_custom_head_options_When_a_run_starts_Then_one_exception_lists_every_problem()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => ImageClassification.From(fixture.Dataset)
            .WithCustomHead(CustomHeadOptions.Mlp(2), new TrainingOptions { BatchSize = 0 })
            .RunAsync());
        Assert.Contains("HiddenSizes", e.Message, StringComparison.Ordinal);
        Assert.Contains("Dropout", e.Message, StringComparison.Ordinal);
        Assert.Contains("BatchSize", e.Message, StringComparison.Ordinal);
    }

    private sealed class Inline(Action<ExperimentProgress> report) : IProgress<ExperimentProgress>
    {
        public void Report(ExperimentProgress value)
        {
            lock (this)
            {
                report(value);
            }
        }
    }
}
