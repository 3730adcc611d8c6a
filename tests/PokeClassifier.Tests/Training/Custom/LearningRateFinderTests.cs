using PokeClassifier.Data;
using PokeClassifier.Reporting;
using PokeClassifier.Training.Budget;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.FineTuning;
using PokeClassifier.Training.LearningRate;
using PokeClassifier.Training;
using static TorchSharp.torch;

namespace PokeClassifier.Tests.Training.Custom;

/// <summary>The learning-rate range test: the curve, the suggestions, divergence, and the weights it must leave alone.</summary>
public sealed class LearningRateFinderTests(CustomPathFixture fixture) : IClassFixture<CustomPathFixture>
{
    [Fact]
    public void Given_an_MLP_with_dropout_When_the_range_test_runs_to_divergence_Then_its_weights_and_buffers_are_bit_identical_afterwards()
    {
        var data = Clusters.Make(4, 40, [24], seed: 3);
        using var model = HeadNetwork.Build(new CustomHeadOptions { Kind = CustomHeadKind.Mlp, HiddenSizes = [32], Dropout = 0.3 }, data.Shape, 4, seed: 5);
        var before = Weights(model);

        var result = LearningRateFinder.Run(model, data.Source(), data.Classes, new TrainingOptions { BatchSize = 8 }, new LearningRateFinderOptions(), seed: 7);

        var after = Weights(model);
        Assert.Equal(before.Keys, after.Keys);
        foreach (var (name, values) in before)
        {
            Assert.True(values.SequenceEqual(after[name]), $"{name} changed");
        }

        Assert.False(model.training);
        Assert.NotNull(result.DivergedAt);
        Assert.True(result.Rates.Count is > 10 and < 100, $"{result.Rates.Count} steps");
        Assert.Equal(1e-7, result.Rates[0], 12);
        for (var i = 1; i < result.Rates.Count; i++)
        {
            // Exponential: each rate is the last times (10 / 1e-7)^(1/99).
            Assert.Equal(Math.Pow(1e8, 1.0 / 99), result.Rates[i] / result.Rates[i - 1], 9);
        }

        Assert.True(result.SmoothedLosses[^1] > 4 * result.SmoothedLosses.Min(), "the test stops when the smoothed loss passes 4x its lowest value");
        Assert.InRange(result.SuggestedLearningRate, 1e-7, 10);
        Assert.True(result.SuggestedLearningRate < result.DivergedAt, $"suggested {result.SuggestedLearningRate} vs diverged at {result.DivergedAt}");
        Assert.True(result.MinimumLossLearningRate < result.DivergedAt);
        Assert.Equal(result.LowestLossLearningRate / 10, result.MinimumLossLearningRate, 15);
        Assert.Contains("exceeded 4x", result.StopReason, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_the_smoothing_When_losses_are_recorded_Then_the_smoothed_curve_is_the_debiased_moving_average_of_the_raw_losses()
    {
        var data = Clusters.Make(3, 30, [12], seed: 1);
        using var model = HeadNetwork.Build(CustomHeadOptions.GlobalAveragePoolDense(), data.Shape, 3, seed: 2);

        var result = LearningRateFinder.Run(model, data.Source(), data.Classes, new TrainingOptions { BatchSize = 16 }, new LearningRateFinderOptions { Steps = 30, DivergenceFactor = null, EndLearningRate = 1e-2 }, seed: 3);

        Assert.Equal(30, result.Rates.Count); // 90 rows in batches of 16: six batches a pass, five passes
        Assert.Null(result.DivergedAt);
        Assert.Equal(1e-2, result.Rates[^1], 12);
        double average = 0;
        for (var i = 0; i < result.Losses.Count; i++)
        {
            average = (0.98 * average) + (0.02 * result.Losses[i]);
            Assert.Equal(average / (1 - Math.Pow(0.98, i + 1)), result.SmoothedLosses[i], 12);
        }

    }

    [Fact]
    public void Given_a_made_up_curve_When_suggestions_are_computed_Then_they_are_the_steepest_descent_and_a_tenth_of_the_lowest_loss()
    {
        double[] rates = [.. Enumerable.Range(0, 20).Select(i => Math.Pow(10, -6 + (i * 0.3)))];
        double[] losses = [2, 2, 2, 2, 1.98, 1.9, 1.7, 1.2, 0.9, 0.8, 0.75, 0.7, 0.72, 0.9, 1.4, 2.5, 4, 6, 9, 12];

        var result = LearningRateFinderResult.From(rates, losses, losses, steps: 20, divergedAt: rates[^1], "test", 0);

        Assert.Equal(rates[6], result.SuggestedLearningRate); // 1.7 -> 1.2 is the steepest fall; the first 2 and the last 5 are left out
        Assert.Equal(rates[11], result.LowestLossLearningRate);
        Assert.Equal(rates[11] / 10, result.MinimumLossLearningRate, 15);
    }

    [Fact]
    public void Given_bad_options_When_validated_Then_every_problem_is_listed_at_once()
    {
        var e = Assert.Throws<ArgumentException>(() => new LearningRateFinderOptions { StartLearningRate = 1, EndLearningRate = 0.5, Steps = 3, DivergenceFactor = 1, Smoothing = 1 }.Validate());

        Assert.Contains("EndLearningRate (0.5) must be greater than StartLearningRate (1)", e.Message, StringComparison.Ordinal);
        Assert.Contains("Steps must be between 10 and 100000 (was 3)", e.Message, StringComparison.Ordinal);
        Assert.Contains("DivergenceFactor must be greater than 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("Smoothing must be at least 0 and below 1 (was 1)", e.Message, StringComparison.Ordinal);
        var defaults = new LearningRateFinderOptions();
        Assert.Equal((1e-7, 10.0, 100, 4.0, 0.98), (defaults.StartLearningRate, defaults.EndLearningRate, defaults.Steps, defaults.DivergenceFactor!.Value, defaults.Smoothing));
    }

    [Fact]
    public async Task Given_drawn_shapes_and_a_TorchSharp_head_When_FindLearningRateAsync_runs_Then_the_suggestion_lies_in_the_range_below_divergence_and_training_is_unchanged()
    {
        var builder = ImageClassification.From(fixture.Dataset).WithSplit(CustomPathFixture.Split).WithFeatureCache(fixture.Cache)
            .WithCustomHead(CustomHeadOptions.FlattenDense256(), CustomPathFixture.Training);
        var steps = new List<ClassificationProgress>();

        var result = await builder.FindLearningRateAsync(progress: new Sink(steps));

        Assert.NotNull(result.DivergedAt);
        Assert.InRange(result.SuggestedLearningRate, 1e-7, 10);
        Assert.True(result.SuggestedLearningRate < result.DivergedAt!.Value);
        Assert.Equal(result.Rates.Count, steps.Count(p => p.Stage == ClassificationStage.Training));
        Assert.All(steps.Where(p => p.Stage == ClassificationStage.Training), p => Assert.Equal(100, p.Total));
        Assert.Contains("suggested learning rate", result.ToString(), StringComparison.Ordinal);

        // The test trained nothing that lasts: the same builder trains to the fixture's very weights.
        using var again = await builder.RunAsync();
        Assert.Equal(fixture.Run.Classifier.Training!.History.Select(e => e.TrainLoss), again.Classifier.Training!.History.Select(e => e.TrainLoss));
    }

    [Fact]
    public async Task Given_an_MLNet_head_or_a_time_budget_When_FindLearningRateAsync_is_called_Then_it_says_there_is_no_learning_rate_to_find()
    {
        var mlnet = await Assert.ThrowsAsync<ArgumentException>(() => ImageClassification.From(fixture.Dataset).WithMLNetHead().FindLearningRateAsync(new LearningRateFinderOptions { Steps = 2 }));
        Assert.Contains("has no learning rate", mlnet.Message, StringComparison.Ordinal);
        Assert.Contains("Steps must be between", mlnet.Message, StringComparison.Ordinal);

        var budget = await Assert.ThrowsAsync<ArgumentException>(() => ImageClassification.From(fixture.Dataset).WithCustomHead().WithTimeBudget(TrainingBudget.Fast).FindLearningRateAsync());
        Assert.Contains("time budget", budget.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_fine_tuning_the_last_block_When_FindLearningRateAsync_runs_Then_it_returns_a_curve_whose_suggestion_is_in_the_range()
    {
        var fine = ImageClassification.From(fixture.Dataset).WithSplit(CustomPathFixture.Split).WithFeatureCache(fixture.Cache)
            .WithFineTuning(CustomHeadOptions.GlobalAveragePoolDense(), new TrainingOptions { BatchSize = 8 }, new FineTuneOptions { UnfreezeLastBlocks = 1, InputSize = 64 });

        var result = await fine.FindLearningRateAsync(new LearningRateFinderOptions { Steps = 24, EndLearningRate = 1 });

        Assert.InRange(result.Rates.Count, 2, 24);
        Assert.InRange(result.SuggestedLearningRate, 1e-7, 1);
        Assert.True(result.DivergedAt is null || result.SuggestedLearningRate < result.DivergedAt);
        Assert.All(result.SmoothedLosses, l => Assert.True(double.IsFinite(l)));
    }

    [Fact]
    public void Given_a_finder_result_When_drawn_as_SVG_and_put_in_the_HTML_report_Then_both_carry_the_curve_and_the_suggestion()
    {
        double[] rates = [.. Enumerable.Range(0, 30).Select(i => Math.Pow(10, -6 + (i * 0.2)))];
        double[] losses = [.. Enumerable.Range(0, 30).Select(i => 2 - Math.Sin(i / 9.0))];
        var result = LearningRateFinderResult.From(rates, losses, losses, 30, null, "ran all 30 steps", 1);

        var svg = System.Xml.Linq.XDocument.Parse(result.ToSvg());
        Assert.Equal("svg", svg.Root!.Name.LocalName);
        Assert.Contains(svg.Descendants(), e => e.Name.LocalName is "polyline" or "path");
        Assert.Contains(svg.Descendants(), e => e.Name.LocalName == "text" && e.Value.StartsWith("suggested", StringComparison.Ordinal));

        var report = PokeClassifier.Tests.Reporting.ReportTests.SmallResult();
        var html = ExperimentReport.ToHtml(report, new HtmlReportOptions { LearningRateFinder = result });
        Assert.Contains("<section id=\"lr-find\">", html, StringComparison.Ordinal);
        Assert.Contains("href=\"#lr-find\"", html, StringComparison.Ordinal);
        Assert.Contains($"Suggested learning rate {result.SuggestedLearningRate:0.00e+00}", html, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"lr-find\"", ExperimentReport.ToHtml(report), StringComparison.Ordinal);
    }

    private static Dictionary<string, float[]> Weights(TorchSharp.torch.nn.Module<Tensor, Tensor> model) =>
        model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.contiguous().data<float>().ToArray(), StringComparer.Ordinal);

    private sealed class Sink(List<ClassificationProgress> into) : IProgress<ClassificationProgress>
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
