using PokeClassifier.Evaluation;
using Xunit;

namespace PokeClassifier.Tests.Evaluation;

/// <summary>
/// Every expected number below is worked out by hand in the comments next to it; see docs/metrics.md for the
/// definitions. Tolerances: exact ratios are compared to 12 digits, values that pass through float to 6.
/// </summary>
public sealed class EvaluatorTests
{
    private const int Exact = 12;
    private const int FloatInput = 6;

    private static readonly string[] Abc = ["a", "b", "c"];

    // Three classes, c is never predicted.
    //   #  true  pred  probabilities (a, b, c)
    //   1  a     a     0.8   0.1   0.1
    //   2  a     a     0.6   0.3   0.1
    //   3  a     b     0.4   0.5   0.1
    //   4  b     b     0.2   0.7   0.1
    //   5  b     a     0.5   0.25  0.25
    //   6  c     a     0.5   0.25  0.25
    private static readonly Prediction[] NeverPredictedCase =
    [
        P("1.png", "a", "a", 0.8f, 0.1f, 0.1f),
        P("2.png", "a", "a", 0.6f, 0.3f, 0.1f),
        P("3.png", "a", "b", 0.4f, 0.5f, 0.1f),
        P("4.png", "b", "b", 0.2f, 0.7f, 0.1f),
        P("5.png", "b", "a", 0.5f, 0.25f, 0.25f),
        P("6.png", "c", "a", 0.5f, 0.25f, 0.25f),
    ];

    private static readonly string[] ErrorLabels = ["cat", "dog", "fox", "owl"];

    // Errors case. Probabilities are (cat, dog, fox, owl); p7 is the only correct prediction.
    private static readonly Prediction[] ErrorCase =
    [
        P("p1.png", "cat", "dog", 0.2f, 0.7f, 0.1f, 0f),
        P("p2.png", "cat", "dog", 0.1f, 0.9f, 0f, 0f),
        P("p3.png", "cat", "fox", 0.3f, 0.05f, 0.65f, 0f),
        P("p4.png", "dog", "cat", 0.8f, 0.1f, 0.1f, 0f),
        P("p5.png", "fox", "dog", 0.25f, 0.5f, 0.25f, 0f),
        P("p6.png", "fox", "cat", 0.6f, 0.2f, 0.2f, 0f),
        P("p7.png", "owl", "owl", 0f, 0f, 0f, 1f),
        P("a8.png", "fox", "dog", 0.25f, 0.5f, 0.25f, 0f),
    ];

    [Fact]
    public void Given_a_class_that_is_never_predicted_When_computing_metrics_Then_its_precision_is_zero_and_averages_match_hand_arithmetic()
    {
        var report = Evaluator.ComputeMetrics(Abc, NeverPredictedCase);

        // accuracy: #1, #2, #4 correct -> 3 / 6
        Assert.Equal(0.5, report.Accuracy, Exact);
        Assert.Equal(6, report.SampleCount);
        Assert.Equal(3, report.ClassCount);

        // a: TP 2 (#1 #2), FP 2 (#5 #6), FN 1 (#3): P = 2/4, R = 2/3, F1 = 2(1/2)(2/3) / (1/2 + 2/3) = (2/3) / (7/6) = 4/7
        AssertClass(report.PerClass[0], "a", 0.5, 2.0 / 3, 4.0 / 7, support: 3, predicted: 4);
        // b: TP 1 (#4), FP 1 (#3), FN 1 (#5): P = 1/2, R = 1/2, F1 = 1/2
        AssertClass(report.PerClass[1], "b", 0.5, 0.5, 0.5, support: 2, predicted: 2);
        // c: never predicted -> P = 0 by definition; TP 0 of support 1 -> R = 0; P + R = 0 -> F1 = 0
        AssertClass(report.PerClass[2], "c", 0, 0, 0, support: 1, predicted: 0);

        // macro over {a, b, c} (all have support): P = (1/2 + 1/2 + 0)/3 = 1/3
        Assert.Equal(1.0 / 3, report.MacroPrecision, Exact);
        // R = (2/3 + 1/2 + 0)/3 = (7/6)/3 = 7/18 = 0.3889
        Assert.Equal(7.0 / 18, report.MacroRecall, Exact);
        // F1 = (4/7 + 1/2 + 0)/3 = (15/14)/3 = 5/14 = 0.3571
        Assert.Equal(5.0 / 14, report.MacroF1, Exact);

        // weighted by support 3, 2, 1 of 6: P = (3(1/2) + 2(1/2) + 0)/6 = 2.5/6 = 5/12
        Assert.Equal(5.0 / 12, report.WeightedPrecision, Exact);
        // R = (3(2/3) + 2(1/2) + 0)/6 = 3/6 = 1/2 (weighted recall is always the accuracy)
        Assert.Equal(0.5, report.WeightedRecall, Exact);
        // F1 = (3(4/7) + 2(1/2) + 0)/6 = (19/7)/6 = 19/42 = 0.4524
        Assert.Equal(19.0 / 42, report.WeightedF1, Exact);

        // 3 classes -> default k = 1, 3 (5 > 3 is left out). Top-1: true label ranks first in #1, #2, #4 -> 3/6.
        // Top-3 of 3 classes always hits.
        Assert.Equal([1, 3], report.TopKAccuracy.Keys);
        Assert.Equal(0.5, report.TopKAccuracy[1], Exact);
        Assert.Equal(1.0, report.TopKAccuracy[3], Exact);

        // log-loss: -(ln 0.8 + ln 0.6 + ln 0.4 + ln 0.7 + ln 0.25 + ln 0.25)/6
        //   = (0.22314 + 0.51083 + 0.91629 + 0.35667 + 1.38629 + 1.38629)/6 = 4.77952/6 = 0.796587
        Assert.Equal(0.796587, report.LogLoss, FloatInput);
    }

    [Fact]
    public void Given_three_classes_When_computing_metrics_Then_the_confusion_matrix_counts_every_true_predicted_pair()
    {
        var matrix = Evaluator.ComputeMetrics(Abc, NeverPredictedCase).ConfusionMatrix;

        // rows = true, columns = predicted:
        //        a  b  c
        //   a    2  1  0    (#1 #2 -> a, #3 -> b)
        //   b    1  1  0    (#5 -> a, #4 -> b)
        //   c    1  0  0    (#6 -> a)
        int[,] expected = { { 2, 1, 0 }, { 1, 1, 0 }, { 1, 0, 0 } };
        Assert.Equal(Abc, matrix.Labels);
        for (var t = 0; t < 3; t++)
        {
            for (var p = 0; p < 3; p++)
            {
                Assert.Equal(expected[t, p], matrix[t, p]);
                Assert.Equal(expected[t, p], matrix.Count(Abc[t], Abc[p]));
            }
        }

        Assert.Throws<ArgumentException>(() => matrix.Count("a", "zebra"));
        Assert.Throws<ArgumentOutOfRangeException>(() => matrix[3, 0]);

        var expectedTable = string.Join(
            Environment.NewLine,
            "true\\pred  a  b  c",
            "---------  -  -  -",
            "a          2  1  0",
            "b          1  1  0",
            "c          1  0  0",
            string.Empty);
        Assert.Equal(expectedTable, matrix.ToTable());
        Assert.Equal(expectedTable, matrix.ToString());
    }

    [Fact]
    public void Given_long_labels_When_rendering_a_user_built_confusion_matrix_Then_labels_are_cut_to_the_width_and_columns_line_up()
    {
        var matrix = new ConfusionMatrix(["bulbasaur", "pikachu"], [[3, 1], [0, 12]]);

        // width 4: "bulbasaur" -> "bul~", "pikachu" -> "pik~"; the count column widens to fit "12" only if needed (4 >= 2).
        var expectedTable = string.Join(
            Environment.NewLine,
            "true\\pred  bul~  pik~",
            "---------  ----  ----",
            "bul~          3     1",
            "pik~          0    12",
            string.Empty);
        Assert.Equal(expectedTable, matrix.ToTable(maxLabelWidth: 4));
        Assert.Equal(12, matrix.Count("pikachu", "pikachu"));
    }

    [Fact]
    public void Given_perfect_predictions_When_computing_metrics_Then_every_score_is_one_and_log_loss_is_zero()
    {
        string[] labels = ["a", "b"];
        Prediction[] predictions =
        [
            P("1.png", "a", "a", 1f, 0f),
            P("2.png", "b", "b", 0f, 1f),
            P("3.png", "a", "a", 1f, 0f),
        ];

        var report = Evaluator.ComputeMetrics(labels, predictions);

        // 3/3 correct; each class: TP = predicted = support -> P = R = F1 = 1; -ln 1 = 0 for every image.
        Assert.Equal(1.0, report.Accuracy, Exact);
        Assert.Equal(1.0, report.MacroPrecision, Exact);
        Assert.Equal(1.0, report.MacroRecall, Exact);
        Assert.Equal(1.0, report.MacroF1, Exact);
        Assert.Equal(1.0, report.WeightedPrecision, Exact);
        Assert.Equal(1.0, report.WeightedRecall, Exact);
        Assert.Equal(1.0, report.WeightedF1, Exact);
        Assert.Equal(0.0, report.LogLoss, Exact);
        // 2 classes -> only k = 1 is kept from the defaults 1, 3, 5.
        Assert.Equal(new Dictionary<int, double> { [1] = 1.0 }, report.TopKAccuracy);
        AssertClass(report.PerClass[0], "a", 1, 1, 1, support: 2, predicted: 2);
        AssertClass(report.PerClass[1], "b", 1, 1, 1, support: 1, predicted: 1);
        Assert.Empty(Evaluator.ComputeErrors(labels, predictions).All);
    }

    [Fact]
    public void Given_a_support_zero_class_that_was_predicted_When_computing_metrics_Then_macro_counts_it_and_an_absent_class_is_skipped()
    {
        // d never occurs as a true or a predicted label; c has support 0 but is predicted once.
        string[] labels = ["a", "b", "c", "d"];
        Prediction[] predictions =
        [
            P("1.png", "a", "a", 0.7f, 0.1f, 0.1f, 0.1f),
            P("2.png", "a", "c", 0.3f, 0.1f, 0.5f, 0.1f),
            P("3.png", "b", "b", 0.1f, 0.7f, 0.1f, 0.1f),
            P("4.png", "b", "b", 0.1f, 0.7f, 0.1f, 0.1f),
        ];

        var report = Evaluator.ComputeMetrics(labels, predictions);

        // accuracy 3/4
        Assert.Equal(0.75, report.Accuracy, Exact);
        // a: TP 1, FP 0, FN 1 -> P 1, R 1/2, F1 = 2(1)(1/2)/(3/2) = 2/3
        AssertClass(report.PerClass[0], "a", 1, 0.5, 2.0 / 3, support: 2, predicted: 1);
        // b: TP 2, FP 0, FN 0 -> 1, 1, 1
        AssertClass(report.PerClass[1], "b", 1, 1, 1, support: 2, predicted: 2);
        // c: TP 0 of 1 predicted -> P 0; support 0 -> R 0; F1 0
        AssertClass(report.PerClass[2], "c", 0, 0, 0, support: 0, predicted: 1);
        // d: absent everywhere -> zeros, and left out of the macro mean
        AssertClass(report.PerClass[3], "d", 0, 0, 0, support: 0, predicted: 0);

        // macro over y_true ∪ y_pred = {a, b, c}: P = (1 + 1 + 0)/3 = 2/3, R = (1/2 + 1 + 0)/3 = 1/2,
        // F1 = (2/3 + 1 + 0)/3 = 5/9. (Averaging over all four would give 1/2, 3/8, 5/12.)
        Assert.Equal(2.0 / 3, report.MacroPrecision, Exact);
        Assert.Equal(0.5, report.MacroRecall, Exact);
        Assert.Equal(5.0 / 9, report.MacroF1, Exact);

        // weighted by support 2, 2, 0, 0 of 4: c weighs nothing.
        // P = (2(1) + 2(1))/4 = 1, R = (2(1/2) + 2(1))/4 = 3/4, F1 = (2(2/3) + 2(1))/4 = (10/3)/4 = 5/6
        Assert.Equal(1.0, report.WeightedPrecision, Exact);
        Assert.Equal(0.75, report.WeightedRecall, Exact);
        Assert.Equal(5.0 / 6, report.WeightedF1, Exact);

        // worst by F1: c (0), then a (2/3), then b (1); d has no evidence and is not listed.
        Assert.Equal(["c", "a"], report.WorstClasses(2).Select(m => m.Label));
        Assert.Equal(["c", "a", "b"], report.WorstClasses(10).Select(m => m.Label));
        Assert.Empty(report.WorstClasses(0));
    }

    [Fact]
    public void Given_equal_f_1_scores_When_asking_a_user_built_report_for_worst_classes_Then_lower_recall_then_label_ordinal_breaks_the_tie()
    {
        var report = new MetricReport
        {
            Accuracy = 0.5,
            MacroPrecision = 0.5,
            MacroRecall = 0.5,
            MacroF1 = 0.5,
            WeightedPrecision = 0.5,
            WeightedRecall = 0.5,
            WeightedF1 = 0.5,
            PerClass =
            [
                new ClassMetrics { Label = "y", Precision = 0.4286, Recall = 0.6, F1 = 0.5, Support = 5, PredictedCount = 7 },
                new ClassMetrics { Label = "x", Precision = 0.6667, Recall = 0.4, F1 = 0.5, Support = 5, PredictedCount = 3 },
                new ClassMetrics { Label = "W", Precision = 0.6667, Recall = 0.4, F1 = 0.5, Support = 5, PredictedCount = 3 },
                new ClassMetrics { Label = "z", Precision = 0, Recall = 0, F1 = 0, Support = 0, PredictedCount = 0 },
            ],
            ConfusionMatrix = new ConfusionMatrix(["only"], [[1]]),
            TopKAccuracy = new Dictionary<int, double>(),
            LogLoss = 0.7,
            SampleCount = 15,
            ClassCount = 4,
        };

        // all F1 = 0.5; recall 0.4 (W, x) before 0.6 (y); "W" < "x" ordinally (uppercase first); z has no evidence.
        Assert.Equal(["W", "x", "y"], report.WorstClasses(5).Select(m => m.Label));
        Assert.Throws<ArgumentOutOfRangeException>(() => report.WorstClasses(-1));
    }

    [Fact]
    public void Given_tied_probabilities_When_computing_top_k_Then_the_lower_class_index_ranks_first()
    {
        string[] labels = ["a", "b", "c", "d"];
        Prediction[] predictions =
        [
            // true b; all equal -> only a (lower index) ranks ahead: rank 1
            P("1.png", "b", "a", 0.25f, 0.25f, 0.25f, 0.25f),
            // true d; a is higher, b and c tie with d but have lower indexes: rank 3
            P("2.png", "d", "a", 0.4f, 0.2f, 0.2f, 0.2f),
            // true a; b ties but a has the lower index: rank 0
            P("3.png", "a", "a", 0.3f, 0.3f, 0.2f, 0.2f),
            // true c; only b is higher: rank 1
            P("4.png", "c", "b", 0.1f, 0.5f, 0.3f, 0.1f),
        ];

        var report = Evaluator.ComputeMetrics(labels, predictions, topK: [4, 2, 1, 2]);

        // hit when rank < k. ranks 1, 3, 0, 1:
        // k=1: #3 -> 1/4; k=2: #1 #3 #4 -> 3/4; k=4: all -> 4/4. Keys ascending, duplicate 2 merged.
        Assert.Equal([1, 2, 4], report.TopKAccuracy.Keys);
        Assert.Equal(0.25, report.TopKAccuracy[1], Exact);
        Assert.Equal(0.75, report.TopKAccuracy[2], Exact);
        Assert.Equal(1.0, report.TopKAccuracy[4], Exact);

        // defaults with 4 classes: k = 1, 3 (5 > 4 dropped); k=3: ranks 1, 0, 1 hit, rank 3 misses -> 3/4
        var defaults = Evaluator.ComputeMetrics(labels, predictions);
        Assert.Equal([1, 3], defaults.TopKAccuracy.Keys);
        Assert.Equal(0.75, defaults.TopKAccuracy[3], Exact);

        // an explicit k above the class count is dropped, not an error
        Assert.Equal([1], Evaluator.ComputeMetrics(labels, predictions, topK: [1, 10]).TopKAccuracy.Keys);
    }

    [Fact]
    public void Given_a_zero_probability_for_the_true_label_When_computing_log_loss_Then_it_is_clamped_to_one_e_minus_fifteen()
    {
        string[] labels = ["a", "b"];
        Prediction[] predictions =
        [
            P("1.png", "a", "a", 0.5f, 0.5f), // -ln 0.5 = ln 2 = 0.693147
            P("2.png", "b", "a", 1f, 0f),     // -ln max(0, 1e-15) = 15 ln 10 = 34.538776
        ];

        var report = Evaluator.ComputeMetrics(labels, predictions);

        // (0.693147 + 34.538776) / 2 = 17.615962 -- finite, not infinity
        Assert.Equal((Math.Log(2) + (15 * Math.Log(10))) / 2, report.LogLoss, Exact);
        Assert.Equal(17.615962, report.LogLoss, FloatInput);
    }

    [Fact]
    public void Given_repeated_mistakes_When_computing_errors_Then_pairs_are_ranked_by_count_then_true_then_predicted_label()
    {
        var errors = Evaluator.ComputeErrors(ErrorLabels, ErrorCase);

        // directed counts: cat->dog 2 (p1 p2), fox->dog 2 (p5 a8), cat->fox 1 (p3), dog->cat 1 (p4), fox->cat 1 (p6).
        // Count 2 first (cat before fox), then count 1 by true label, then predicted label.
        Assert.Equal(
            [("cat", "dog", 2), ("fox", "dog", 2), ("cat", "fox", 1), ("dog", "cat", 1), ("fox", "cat", 1)],
            errors.MostConfusedPairs.Select(pair => (pair.TrueLabel, pair.PredictedLabel, pair.Count)));
    }

    [Fact]
    public void Given_mistakes_When_computing_errors_Then_each_class_lists_its_most_confidently_wrong_images_first()
    {
        var errors = Evaluator.ComputeErrors(ErrorLabels, ErrorCase);

        // owl has no error, so no key; keys follow the class list.
        Assert.Equal(["cat", "dog", "fox"], errors.ByClass.Keys);
        // cat: p2 (0.9 on dog), p1 (0.7 on dog), p3 (0.65 on fox)
        Assert.Equal(["p2.png", "p1.png", "p3.png"], errors.ByClass["cat"].Select(image => image.Path));
        Assert.Equal(["p4.png"], errors.ByClass["dog"].Select(image => image.Path));
        // fox: p6 (0.6), then a8 and p5 both 0.5 on dog -> tie broken by path, "a8.png" < "p5.png"
        Assert.Equal(["p6.png", "a8.png", "p5.png"], errors.ByClass["fox"].Select(image => image.Path));

        var worstCat = errors.ByClass["cat"][0];
        Assert.Equal("cat", worstCat.TrueLabel);
        Assert.Equal("dog", worstCat.PredictedLabel);
        Assert.Equal(0.9, worstCat.PredictedProbability, FloatInput);
        Assert.Equal(0.1, worstCat.TrueLabelProbability, FloatInput);
    }

    [Fact]
    public void Given_mistakes_When_computing_errors_Then_all_holds_only_errors_most_confident_first()
    {
        var errors = Evaluator.ComputeErrors(ErrorLabels, ErrorCase);

        // predicted-label probabilities: p2 .9, p4 .8, p1 .7, p3 .65, p6 .6, a8 .5, p5 .5; p7 is correct and absent.
        Assert.Equal(
            ["p2.png", "p4.png", "p1.png", "p3.png", "p6.png", "a8.png", "p5.png"],
            errors.All.Select(image => image.Path));
    }

    [Fact]
    public void Given_more_pairs_than_requested_When_rendering_the_error_table_Then_only_the_top_pairs_are_shown_and_the_rest_counted()
    {
        var table = Evaluator.ComputeErrors(ErrorLabels, ErrorCase).ToTable(maxPairs: 2);
        var rows = Rows(table);

        Assert.Contains(["Misclassified:", "7", "image(s)", "in", "3", "class(es)"], rows);
        Assert.Contains(["cat", "dog", "2"], rows);
        Assert.Contains(["fox", "dog", "2"], rows);
        Assert.DoesNotContain(["cat", "fox", "1"], rows);
        Assert.Contains(["(3", "more", "pair(s)", "not", "shown)"], rows);
        // per class: the count of errors and the most confidently wrong image
        Assert.Contains(["cat", "3", "p2.png", "dog", "0.9000", "0.1000"], rows);
        Assert.Contains(["fox", "3", "p6.png", "cat", "0.6000", "0.2000"], rows);
    }

    [Fact]
    public void Given_a_metric_report_When_rendering_its_table_Then_summary_averages_and_every_class_are_printed()
    {
        var report = Evaluator.ComputeMetrics(Abc, NeverPredictedCase);
        var rows = Rows(report.ToTable());

        Assert.Contains(["Accuracy", "0.5000"], rows);
        Assert.Contains(["Top-1", "accuracy", "0.5000"], rows);
        Assert.Contains(["Top-3", "accuracy", "1.0000"], rows);
        Assert.Contains(["Log-loss", "0.7966"], rows);
        Assert.Contains(["Macro", "0.3333", "0.3889", "0.3571"], rows);
        Assert.Contains(["Weighted", "0.4167", "0.5000", "0.4524"], rows);
        Assert.Contains(["a", "0.5000", "0.6667", "0.5714", "3", "4"], rows);
        Assert.Contains(["c", "0.0000", "0.0000", "0.0000", "1", "0"], rows);
        Assert.Equal(report.ToTable(), report.ToString());
    }

    [Fact]
    public void Given_an_empty_class_list_When_computing_metrics_Then_argument_exception_names_the_problem()
    {
        var exception = Assert.Throws<ArgumentException>(() => Evaluator.ComputeMetrics([], NeverPredictedCase));

        Assert.Equal("classLabels", exception.ParamName);
        Assert.Contains("class list is empty", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_a_duplicate_class_label_When_computing_metrics_Then_argument_exception_names_the_label()
    {
        var exception = Assert.Throws<ArgumentException>(
            () => Evaluator.ComputeMetrics(["a", "b", "a"], [P("1.png", "a", "a", 1f, 0f, 0f)]));

        Assert.Equal("classLabels", exception.ParamName);
        Assert.Contains("duplicate label 'a' (indexes 0 and 2)", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("zebra", "a", "true label 'zebra', which is not in the class list")]
    [InlineData("a", "zebra", "predicted label 'zebra', which is not in the class list")]
    public void Given_a_label_outside_the_class_list_When_computing_metrics_Then_argument_exception_names_the_label(string trueLabel, string predictedLabel, string expectedMessage)
    {
        Prediction[] predictions = [P("ok.png", "a", "a", 1f, 0f, 0f), P("bad.png", trueLabel, predictedLabel, 1f, 0f, 0f)];

        var exception = Assert.Throws<ArgumentException>(() => Evaluator.ComputeMetrics(Abc, predictions));

        Assert.Equal("predictions", exception.ParamName);
        Assert.Contains("Prediction 1 ('bad.png')", exception.Message, StringComparison.Ordinal);
        Assert.Contains(expectedMessage, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_probabilities_of_the_wrong_length_When_computing_metrics_Then_argument_exception_gives_both_lengths()
    {
        var exception = Assert.Throws<ArgumentException>(
            () => Evaluator.ComputeMetrics(Abc, [P("short.png", "a", "a", 0.6f, 0.4f)]));

        Assert.Contains("has 2 probabilities but there are 3 classes", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_no_predictions_When_computing_metrics_or_errors_Then_argument_exception_says_the_list_is_empty()
    {
        var metrics = Assert.Throws<ArgumentException>(() => Evaluator.ComputeMetrics(Abc, []));
        var errors = Assert.Throws<ArgumentException>(() => Evaluator.ComputeErrors(Abc, []));

        Assert.Equal("predictions", metrics.ParamName);
        Assert.Contains("prediction list is empty", metrics.Message, StringComparison.Ordinal);
        Assert.Contains("prediction list is empty", errors.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_several_problems_When_computing_errors_Then_one_exception_lists_every_problem()
    {
        Prediction[] predictions =
        [
            P("1.png", "zebra", "a", 1f, 0f, 0f),
            P("2.png", "a", "a", 1f, 0f),
            P("3.png", "a", "b", float.NaN, 0f, 0f),
        ];

        var exception = Assert.Throws<ArgumentException>(() => Evaluator.ComputeErrors(Abc, predictions));

        Assert.Contains("3 problems", exception.Message, StringComparison.Ordinal);
        Assert.Contains("Prediction 0 ('1.png') has the true label 'zebra'", exception.Message, StringComparison.Ordinal);
        Assert.Contains("Prediction 1 ('2.png') has 2 probabilities", exception.Message, StringComparison.Ordinal);
        Assert.Contains("Prediction 2 ('3.png') has the probability NaN at index 0", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_a_top_k_below_one_When_computing_metrics_Then_argument_out_of_range_exception_is_thrown()
    {
        var exception = Assert.Throws<ArgumentOutOfRangeException>(
            () => Evaluator.ComputeMetrics(Abc, NeverPredictedCase, topK: [1, 0]));

        Assert.Equal("topK", exception.ParamName);
    }

    private static Prediction P(string path, string trueLabel, string predictedLabel, params float[] probabilities) =>
        new() { Path = path, TrueLabel = trueLabel, PredictedLabel = predictedLabel, Probabilities = probabilities };

    private static void AssertClass(ClassMetrics metrics, string label, double precision, double recall, double f1, int support, int predicted)
    {
        Assert.Equal(label, metrics.Label);
        Assert.Equal(precision, metrics.Precision, Exact);
        Assert.Equal(recall, metrics.Recall, Exact);
        Assert.Equal(f1, metrics.F1, Exact);
        Assert.Equal(support, metrics.Support);
        Assert.Equal(predicted, metrics.PredictedCount);
    }

    /// <summary>Splits a rendered table into rows of whitespace-separated cells, so tests do not depend on padding.</summary>
    private static List<string[]> Rows(string table) =>
        table.Split('\n')
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Where(cells => cells.Length > 0)
            .ToList();
}
