using System.Text.Json;
using PokeClassifier.Evaluation;
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
        Assert.Equal(5, CountOf(html, "<figure"));
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
