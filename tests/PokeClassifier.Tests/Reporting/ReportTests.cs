using System.Text.Json;
using PokeClassifier.Evaluation;
using PokeClassifier.Experiments;
using PokeClassifier.Reporting;
using PokeClassifier.Training;
using SkiaSharp;

namespace PokeClassifier.Tests.Reporting;

/// <summary>Reports built from results made by hand (no model needed).</summary>
public sealed class ReportTests
{
    private static readonly string[] Classes = ["a", "b", "c", "d"];

    [Fact]
    public void Given_a_confusion_matrix_When_ordered_by_confusion_Then_classes_confused_with_each_other_sit_together()
    {
        // a<->c and b<->d are confused; in class order they are apart.
        var matrix = new ConfusionMatrix(Classes, [[5, 0, 4, 0], [0, 6, 0, 3], [4, 0, 5, 0], [0, 2, 0, 7]]);
        var order = ClassOrder.ByConfusion(matrix).ToList();
        Assert.Equal(4, order.Count);
        Assert.Equal(1, Math.Abs(order.IndexOf("a") - order.IndexOf("c")));
        Assert.Equal(1, Math.Abs(order.IndexOf("b") - order.IndexOf("d")));
        Assert.Equal(order, ClassOrder.ByConfusion(matrix)); // deterministic
    }

    [Fact]
    public void Given_a_manifest_with_ids_When_ordered_Then_labels_follow_the_id()
    {
        var dir = TestImages.NewTempDir("manifest");
        var path = Path.Combine(dir, "manifest.csv");
        File.WriteAllText(path, "path,class,id\nx/1.png,Venusaur,3\nx/2.png,Bulbasaur,1\nx/3.png,Ivysaur,2\nx/4.png,Bulbasaur,1\nx/5.png,Abra,63\n");
        Assert.Equal(["Bulbasaur", "Ivysaur", "Venusaur", "Abra"], ClassOrder.FromManifest(path));
        Assert.Null(ClassOrder.FromManifest(path, "pokedex"));
    }

    [Fact]
    public void Given_many_errors_and_a_history_When_written_as_html_Then_galleries_are_capped_and_say_so_and_curves_are_drawn()
    {
        var dir = TestImages.NewTempDir("gallery");
        var rng = new Random(1);
        var predictions = new List<Prediction>();
        foreach (var label in Classes)
        {
            for (var i = 0; i < 6; i++)
            {
                var path = Path.Combine(dir, $"{label}{i}.png");
                using (var bmp = TestImages.Shape(i % 2 == 0 ? "circle" : "square", rng))
                {
                    File.WriteAllBytes(path, TestImages.Encode(bmp, SKEncodedImageFormat.Png));
                }

                var predicted = i < 4 ? Classes[(Array.IndexOf(Classes, label) + 1) % 4] : label;
                var probabilities = Classes.Select(c => c == predicted ? 0.7f : 0.1f).ToArray();
                predictions.Add(new Prediction { Path = path, TrueLabel = label, PredictedLabel = predicted, Probabilities = probabilities });
            }
        }

        var result = Result(predictions, history: true);
        var html = ExperimentReport.ToHtml(result, new HtmlReportOptions { MaxImagesPerClass = 2, MaxImagesPerConfiguration = 5, ThumbnailSize = 48 });
        Assert.Equal(5, CountOf(html[..html.IndexOf("id=\"top-losses-0\"", StringComparison.Ordinal)], "<figure")); // the top losses follow the gallery
        Assert.Contains("Gallery capped", html, StringComparison.Ordinal);
        Assert.Contains("more misclassified image(s) of", html, StringComparison.Ordinal);
        Assert.Contains("Loss per epoch", html, StringComparison.Ordinal);
        Assert.Contains("Learning rate per epoch", html, StringComparison.Ordinal);
        Assert.DoesNotContain("No configuration recorded a per-epoch history", html, StringComparison.Ordinal);

        // Every clip path id is unique in the page (inline SVGs share one id space).
        var ids = System.Text.RegularExpressions.Regex.Matches(html, "id=\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToArray();
        Assert.Equal(ids.Length, ids.Distinct().Count());

        var json = JsonDocument.Parse(ExperimentReport.ToJson(result)).RootElement;
        var history = json.GetProperty("configurations")[0].GetProperty("trainingHistory");
        Assert.Equal(3, history.GetArrayLength());
        Assert.Equal(JsonValueKind.Null, history[0].GetProperty("validationLoss").ValueKind);
        Assert.Equal(0.0001, history[2].GetProperty("learningRate").GetDouble());
    }

    [Fact]
    public void Given_a_result_When_written_as_markdown_Then_it_has_the_table_the_verdict_and_the_worst_classes()
    {
        var predictions = Classes.SelectMany(label => Enumerable.Range(0, 3).Select(i => new Prediction
        {
            Path = $"/data/{label}/{i}.png",
            TrueLabel = label,
            PredictedLabel = i == 0 && label == "a" ? "b" : label,
            Probabilities = Classes.Select(c => c == (i == 0 && label == "a" ? "b" : label) ? 0.9f : 0.0333f).ToArray(),
        })).ToArray();
        var md = ExperimentReport.ToMarkdown(Result(predictions, history: false));
        Assert.Contains("| Configuration | Precision | Recall | F1 (macro) | Accuracy | Top-5 | train s | ms/img |", md, StringComparison.Ordinal);
        Assert.Contains("| a | b | 1 |", md, StringComparison.Ordinal);
        Assert.Contains("### Worst 10 classes (by F1)", md, StringComparison.Ordinal);
        Assert.Contains("head: ML.NET LbfgsMaximumEntropy", md, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_invalid_html_options_When_validated_Then_every_problem_is_listed()
    {
        var e = Assert.Throws<ArgumentException>(() => new HtmlReportOptions { Title = " ", ThumbnailSize = 2, FocusClassCount = 1 }.Validate());
        Assert.Contains("Title", e.Message, StringComparison.Ordinal);
        Assert.Contains("ThumbnailSize", e.Message, StringComparison.Ordinal);
        Assert.Contains("FocusClassCount", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_hand_made_predictions_with_ties_When_top_losses_are_computed_Then_the_surest_errors_and_the_least_sure_correct_come_first_in_a_stable_order()
    {
        Prediction P(string path, string truth, string predicted, params float[] probabilities) => new() { Path = path, TrueLabel = truth, PredictedLabel = predicted, Probabilities = probabilities };
        Prediction[] predictions =
        [
            P("e1", "a", "b", 0.2f, 0.7f, 0.1f, 0f),   // wrong at 0.7, P(true) 0.2
            P("e2", "a", "c", 0.1f, 0.1f, 0.8f, 0f),   // wrong at 0.8: the surest error
            P("e4", "b", "a", 0.7f, 0.1f, 0.2f, 0f),   // wrong at 0.7, P(true) 0.1: ties e1 on confidence, larger loss, so before it
            P("e3", "c", "d", 0.1f, 0.2f, 0.1f, 0.6f), // wrong at 0.6
            P("c2", "a", "a", 0.4f, 0.3f, 0.3f, 0f),   // right at 0.4
            P("c1", "b", "b", 0.1f, 0.9f, 0f, 0f),     // right at 0.9
            P("c4", "c", "c", 0.3f, 0.3f, 0.4f, 0f),   // right at 0.4: ties c2, path order puts c2 first
            P("c3", "d", "d", 0.2f, 0.2f, 0.1f, 0.5f), // right at 0.5
        ];

        var top = Evaluator.ComputeTopLosses(Classes, predictions, count: 3);

        Assert.Equal(["e2", "e4", "e1"], top.MostConfidentErrors.Select(i => i.Path));
        Assert.Equal(["c2", "c4", "c3"], top.LeastConfidentCorrect.Select(i => i.Path));
        Assert.Equal((4, 4), (top.ErrorCount, top.CorrectCount));
        var surest = top.MostConfidentErrors[0];
        Assert.Equal(("a", "c"), (surest.TrueLabel, surest.PredictedLabel));
        Assert.Equal(0.8, surest.PredictedProbability, 6);
        Assert.Equal(0.1, surest.TrueLabelProbability, 6);
        Assert.Equal(-Math.Log(0.1f), surest.Loss, 12);
        Assert.Equal(-Math.Log(0.4f), top.LeastConfidentCorrect[0].Loss, 12);
        Assert.Equal(4, Evaluator.ComputeTopLosses(Classes, predictions, count: 10).MostConfidentErrors.Count);
        Assert.Empty(Evaluator.ComputeTopLosses(Classes, predictions, count: 0).LeastConfidentCorrect);
        Assert.Contains("Most confident errors (3 of 4)", top.ToTable(), StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Evaluator.ComputeTopLosses(Classes, predictions, count: -1));
        Assert.Throws<ArgumentException>(() => new TopLossReport(top.LeastConfidentCorrect, [], 4, 4));
    }

    [Fact]
    public void Given_a_result_with_predictions_When_each_report_is_written_Then_each_has_the_top_losses_section_with_thumbnails_labels_and_probabilities()
    {
        var dir = TestImages.NewTempDir("top-losses");
        try
        {
            var rng = new Random(3);
            var predictions = new List<Prediction>();
            foreach (var label in Classes)
            {
                for (var i = 0; i < 3; i++)
                {
                    var path = Path.Combine(dir, $"{label}{i}.png");
                    using (var bmp = TestImages.Shape(i % 2 == 0 ? "circle" : "square", rng))
                    {
                        File.WriteAllBytes(path, TestImages.Encode(bmp, SKEncodedImageFormat.Png));
                    }

                    var predicted = i == 0 ? Classes[(Array.IndexOf(Classes, label) + 1) % 4] : label;
                    var confidence = 0.4f + (0.1f * i) + (0.05f * Array.IndexOf(Classes, label));
                    predictions.Add(new Prediction { Path = path, TrueLabel = label, PredictedLabel = predicted, Probabilities = Classes.Select(c => c == predicted ? confidence : (1 - confidence) / 3).ToArray() });
                }
            }

            var result = Result(predictions, history: false);
            var surestError = Path.Combine(dir, "d0.png"); // d is wrong at 0.55, the highest of the errors
            var leastSureRight = Path.Combine(dir, "a1.png"); // right at 0.5, the lowest of the correct

            var html = ExperimentReport.ToHtml(result, new HtmlReportOptions { ThumbnailSize = 32 });
            var section = html[html.IndexOf("id=\"top-losses-0\"", StringComparison.Ordinal)..html.IndexOf("Per-class metrics (", StringComparison.Ordinal)];
            Assert.Contains("Most confident errors (4 of 4)", section, StringComparison.Ordinal);
            Assert.Contains("Least confident correct predictions (8 of 8)", section, StringComparison.Ordinal);
            Assert.Equal(12, CountOf(section, "<img src=\"data:image/jpeg;base64,"));
            Assert.Contains("d 15.0% → <b>a</b> 55.0%", section, StringComparison.Ordinal);
            Assert.True(section.IndexOf("d0.png", StringComparison.Ordinal) < section.IndexOf("c0.png", StringComparison.Ordinal));

            var md = ExperimentReport.ToMarkdown(result);
            Assert.Contains("### Top losses", md, StringComparison.Ordinal);
            Assert.Contains("| Image | File | True | Predicted | P(pred) | P(true) | Loss |", md, StringComparison.Ordinal);
            Assert.Contains("Most confident errors (4 of 4):", md, StringComparison.Ordinal);
            Assert.Contains("| d | a | 0.5500 | 0.1500 |", md, StringComparison.Ordinal);
            Assert.Contains("width=\"48\"", md, StringComparison.Ordinal);

            var top = JsonDocument.Parse(ExperimentReport.ToJson(result)).RootElement.GetProperty("configurations")[0].GetProperty("topLosses");
            Assert.Equal(4, top.GetProperty("errorCount").GetInt32());
            Assert.Equal(surestError, top.GetProperty("mostConfidentErrors")[0].GetProperty("path").GetString());
            Assert.Equal(leastSureRight, top.GetProperty("leastConfidentCorrect")[0].GetProperty("path").GetString());
            Assert.Equal(-Math.Log(0.5f), top.GetProperty("leastConfidentCorrect")[0].GetProperty("loss").GetDouble(), 12);
            Assert.Equal(8, top.GetProperty("leastConfidentCorrect").GetArrayLength());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A small hand-made result (4 classes, one error) for tests that only need a report to put things in.</summary>
    internal static ExperimentResult SmallResult() => Result(Classes.SelectMany(label => Enumerable.Range(0, 3).Select(i => new Prediction
    {
        Path = $"/data/{label}/{i}.png",
        TrueLabel = label,
        PredictedLabel = i == 0 && label == "a" ? "b" : label,
        Probabilities = Classes.Select(c => c == (i == 0 && label == "a" ? "b" : label) ? 0.9f : 0.0333f).ToArray(),
    })).ToArray(), history: false);

    private static ExperimentResult Result(IReadOnlyList<Prediction> predictions, bool history)
    {
        var metrics = Evaluator.ComputeMetrics(Classes, predictions);
        return new ExperimentResult
        {
            Classes = Classes,
            Dataset = "hand-made",
            Protocol = "split",
            Seed = 1,
            Configurations =
            [
                new ConfigurationResult
                {
                    Name = "hand",
                    Backbone = "ResNet18",
                    Head = "ML.NET LbfgsMaximumEntropy",
                    Metrics = metrics,
                    Errors = Evaluator.ComputeErrors(Classes, predictions),
                    Predictions = predictions,
                    Timings = new ConfigurationTimings { TrainingSeconds = 1.5, PredictionMillisecondsPerImage = 20 },
                    Folds = [new FoldResult { Fold = 0, TrainCount = 10, TestCount = predictions.Count, Metrics = metrics }],
                    TrainingHistory = history
                        ? [.. Enumerable.Range(1, 3).Select(e => new EpochRecord { Epoch = e, TrainLoss = 2.0 / e, TrainAccuracy = 0.3 * e, ValidationLoss = e == 1 ? null : 2.2 / e, ValidationAccuracy = e == 1 ? null : 0.28 * e, LearningRate = 0.01 / Math.Pow(10, e - 1), Seconds = 1 })]
                        : [],
                },
            ],
        };
    }

    private static int CountOf(string text, string what)
    {
        var count = 0;
        for (var i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + 1, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
