using System.Text.Json;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Experiments;
using PokeClassifier.Reporting;
using PokeClassifier.Training;

namespace PokeClassifier.Tests.Reporting;

/// <summary>One shapes dataset and feature cache shared by the experiment tests (ResNet18 inference is the expensive part).</summary>
public sealed class ExperimentFixture : IAsyncLifetime
{
    public string Root { get; } = TestImages.ShapesDataset(12, seed: 41, "circle", "square", "triangle");

    public string Cache { get; } = TestImages.NewTempDir("experiment-cache");

    public ImageDataset Dataset { get; private set; } = null!;

    public ExperimentResult Split { get; private set; } = null!;

    public List<ExperimentProgress> Progress { get; } = [];

    public Experiment TwoHeads() => Experiment.For(Dataset)
        .WithSplit(new SplitOptions { TrainFraction = 0.7, ValidationFraction = 0, TestFraction = 0.3, Seed = 3 })
        .WithFeatureCache(Cache)
        .Add("lbfgs", BackboneSpec.ResNet18, HeadConfiguration.MLNet())
        .Add("sdca", BackboneSpec.ResNet18, HeadConfiguration.MLNet(MLNetTrainer.SdcaMaximumEntropy));

    public async Task InitializeAsync()
    {
        Dataset = await ImageDataset.FromFolderAsync(Root);
        Split = await TwoHeads().WithMeasurements(predictionSample: 4).RunAsync(new Recorder(Progress));
    }

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>The result with every wall-clock measurement zeroed: what must not differ between two runs with one seed.</summary>
    public static ExperimentResult WithoutMeasurements(ExperimentResult r) => r with
    {
        TotalSeconds = 0,
        Configurations = r.Configurations.Select(c => c with
        {
            Timings = new ConfigurationTimings(),
            PeakMemoryBytes = 0,
            ModelSizeBytes = 0,
            Folds = c.Folds.Select(f => f with { TrainingSeconds = 0 }).ToArray(),
        }).ToArray(),
    };

    private sealed class Recorder(List<ExperimentProgress> into) : IProgress<ExperimentProgress>
    {
        public void Report(ExperimentProgress value)
        {
            lock (into)
            {
                into.Add(value);
            }
        }
    }
}

public sealed class ExperimentTests(ExperimentFixture fixture) : IClassFixture<ExperimentFixture>
{
    [Fact]
    public void Given_two_heads_on_one_backbone_When_run_Then_each_has_reports_and_costs_and_featurization_ran_once()
    {
        var r = fixture.Split;
        Assert.Equal(["lbfgs", "sdca"], r.Configurations.Select(c => c.Name));
        Assert.Equal(3, r.Classes.Count);
        Assert.Equal(1, r.FoldCount);
        Assert.Equal(3, r.Seed);
        foreach (var c in r.Configurations)
        {
            Assert.Equal("ResNet18", c.Backbone);
            Assert.Equal("ML.NET", c.TrainingPath);
            Assert.False(c.FineTuned);
            Assert.True(c.Metrics.Accuracy >= 0.8, $"{c.Name}: accuracy {c.Metrics.Accuracy}");
            Assert.Equal(c.Metrics.SampleCount, c.Predictions.Count);
            Assert.Equal(c.Metrics.SampleCount - (int)Math.Round(c.Metrics.Accuracy * c.Metrics.SampleCount), c.Errors.All.Count);
            Assert.Empty(c.TrainingHistory);
            Assert.Single(c.Folds);
            Assert.Null(c.CrossValidation);
            Assert.True(c.ModelSizeBytes > 40_000_000, $"model size {c.ModelSizeBytes} (the ResNet18 graph is inside)");
            Assert.True(c.PeakMemoryBytes > 50_000_000, $"peak memory {c.PeakMemoryBytes}");
            Assert.True(c.Timings.PredictionMillisecondsPerImage > 0);
            Assert.Equal(36, c.Timings.FeaturesComputed + c.Timings.FeaturesFromCache);
        }

        // One featurization for both heads: same numbers, and featurizing progress covers the images once.
        Assert.Equal(r.Configurations[0].Timings.FeaturizationSeconds, r.Configurations[1].Timings.FeaturizationSeconds);
        Assert.Equal(36, fixture.Progress.Where(p => p.Stage == ExperimentStage.Featurizing).Max(p => p.Total));
        Assert.Contains(fixture.Progress, p => p.Stage == ExperimentStage.Training && p.Completed == 2 && p.Total == 2);
        Assert.Same(r.Best, r.Ranked[0]);
    }

    [Fact]
    public void Given_a_result_When_printed_Then_the_comparison_table_has_the_studys_columns()
    {
        var table = fixture.Split.ComparisonTable();
        var header = table.Split('\n')[0];
        foreach (var column in new[] { "Configuration", "Precision", "Recall", "F1 (macro)", "Accuracy", "Top-5", "train s", "ms/img" })
        {
            Assert.Contains(column, header, StringComparison.Ordinal);
        }

        Assert.Contains("lbfgs", table, StringComparison.Ordinal);
        var rows = fixture.Split.ComparisonTable(includeTimings: false).Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(2).ToArray();
        Assert.Equal(2, rows.Length);
        Assert.All(rows, row => Assert.EndsWith(" -", row, StringComparison.Ordinal)); // 3 classes: no top-5, and no timing columns
    }

    [Fact]
    public async Task Given_the_same_seed_When_run_twice_Then_markdown_and_json_are_byte_identical_apart_from_measurements()
    {
        var again = await fixture.TwoHeads().WithMeasurements(predictionSample: 0, measureModelSize: false).RunAsync();
        var first = ExperimentFixture.WithoutMeasurements(fixture.Split);
        var second = ExperimentFixture.WithoutMeasurements(again);
        Assert.Equal(ExperimentReport.ToMarkdown(first), ExperimentReport.ToMarkdown(second));
        Assert.Equal(ExperimentReport.ToJson(first), ExperimentReport.ToJson(second));
        Assert.All(again.Configurations, c => Assert.Equal(0, c.Timings.FeaturesComputed)); // the cache served every image
    }

    [Fact]
    public async Task Given_k_fold_When_run_Then_every_image_is_tested_once_and_folds_have_mean_and_spread()
    {
        var result = await Experiment.For(fixture.Dataset).WithKFold(3, seed: 5).WithFeatureCache(fixture.Cache)
            .WithMeasurements(predictionSample: 0, measureModelSize: false)
            .Add(ExperimentConfiguration.Of(BackboneSpec.ResNet18, HeadConfiguration.MLNet()))
            .RunAsync();
        var c = Assert.Single(result.Configurations);
        Assert.Equal("ResNet18 + ML.NET LbfgsMaximumEntropy", c.Name);
        Assert.Equal(3, result.FoldCount);
        Assert.Equal(3, c.Folds.Count);
        Assert.Equal(36, c.Metrics.SampleCount);
        Assert.Equal(36, c.Predictions.Select(p => p.Path).Distinct().Count());
        Assert.Equal(36, c.Folds.Sum(f => f.TestCount));
        var cv = Assert.IsType<CrossValidationSummary>(c.CrossValidation);
        Assert.Equal(3, cv.Folds);
        Assert.Equal(c.Folds.Average(f => f.Metrics.MacroF1), cv.MacroF1.Mean, 12);
        Assert.True(cv.MacroF1.StandardDeviation >= 0);
        Assert.Contains("±", result.ComparisonTable(), StringComparison.Ordinal);
        Assert.Contains("3-fold", result.Protocol, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_an_invalid_experiment_When_run_Then_one_exception_lists_every_problem_before_any_work()
    {
        var empty = Experiment.For(fixture.Dataset);
        var e1 = await Assert.ThrowsAsync<ArgumentException>(() => empty.RunAsync());
        Assert.Contains("at least one configuration", e1.Message, StringComparison.Ordinal);

        var bad = Experiment.For(fixture.Dataset)
            .WithSplit(new SplitOptions { TrainFraction = 0.9, ValidationFraction = 0, TestFraction = 0.3 })
            .Add("a", BackboneSpec.ResNet18, HeadConfiguration.MLNet(new MLNetHeadOptions { MaximumIterations = 0 }))
            .Add("a", BackboneSpec.ResNet18, HeadConfiguration.MLNet());
        var e2 = await Assert.ThrowsAsync<ArgumentException>(() => bad.RunAsync());
        Assert.Contains("used more than once", e2.Message, StringComparison.Ordinal);
        Assert.Contains("MaximumIterations", e2.Message, StringComparison.Ordinal);
        Assert.Contains("add up to 1", e2.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_a_real_result_When_written_as_json_Then_it_parses_and_numbers_round_trip_exactly()
    {
        var json = ExperimentReport.ToJson(fixture.Split);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal(1, root.GetProperty("formatVersion").GetInt32());
        var configurations = root.GetProperty("configurations");
        Assert.Equal(2, configurations.GetArrayLength());
        var first = configurations[0];
        Assert.Equal(fixture.Split.Configurations[0].Metrics.MacroF1, first.GetProperty("metrics").GetProperty("macroF1").GetDouble());
        Assert.Equal(fixture.Split.Configurations[0].Metrics.LogLoss, first.GetProperty("metrics").GetProperty("logLoss").GetDouble());
        Assert.Equal(fixture.Split.Configurations[0].ModelSizeBytes, first.GetProperty("measurements").GetProperty("modelSizeBytes").GetInt64());
        Assert.Equal(3, first.GetProperty("metrics").GetProperty("confusionMatrix").GetArrayLength());
    }

    [Fact]
    public void Given_a_real_result_When_written_as_html_Then_the_file_is_self_contained_with_charts_and_thumbnails()
    {
        var dir = TestImages.NewTempDir("report");
        var paths = ExperimentReport.WriteAll(fixture.Split, dir);
        Assert.All(paths, p => Assert.True(new FileInfo(p).Length > 0, p));
        var html = File.ReadAllText(paths[1]);
        Assert.DoesNotContain("src=\"http", html, StringComparison.Ordinal);
        Assert.DoesNotContain("href=\"http", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<link", html, StringComparison.Ordinal);
        Assert.Contains("<svg", html, StringComparison.Ordinal);
        Assert.Contains("sortable", html, StringComparison.Ordinal);
        Assert.Contains("wins: macro F1", html, StringComparison.Ordinal);
        if (fixture.Split.Configurations.Any(c => c.Errors.All.Count > 0))
        {
            Assert.Contains("data:image/jpeg;base64,", html, StringComparison.Ordinal);
        }
    }
}
