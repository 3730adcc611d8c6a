using System.Text;

namespace PokeClassifier.Evaluation;

/// <summary>
/// Classification metrics over one set of predictions: accuracy, macro and weighted averages, per-class
/// precision/recall/F1, the confusion matrix, top-k accuracy and log-loss.
/// </summary>
/// <remarks>
/// Produced by <see cref="Evaluator.ComputeMetrics"/>; the definitions are in <c>docs/metrics.md</c>.
/// Users may also build one in their own tests. Instances are immutable.
/// </remarks>
public sealed record MetricReport
{
    private const int MaxLabelWidth = 24;

    /// <summary>Gets the share of images whose predicted label equals the true label.</summary>
    public required double Accuracy { get; init; }

    /// <summary>Gets the unweighted mean of per-class precision over the classes that occur as a true or a predicted label.</summary>
    public required double MacroPrecision { get; init; }

    /// <summary>Gets the unweighted mean of per-class recall over the classes that occur as a true or a predicted label.</summary>
    public required double MacroRecall { get; init; }

    /// <summary>Gets the unweighted mean of per-class F1 over the classes that occur as a true or a predicted label.</summary>
    public required double MacroF1 { get; init; }

    /// <summary>Gets the mean of per-class precision weighted by each class's support.</summary>
    public required double WeightedPrecision { get; init; }

    /// <summary>Gets the mean of per-class recall weighted by each class's support (equal to <see cref="Accuracy"/>).</summary>
    public required double WeightedRecall { get; init; }

    /// <summary>Gets the mean of per-class F1 weighted by each class's support.</summary>
    public required double WeightedF1 { get; init; }

    /// <summary>Gets the metrics of every class in the class list, in class-list order (including absent classes).</summary>
    public required IReadOnlyList<ClassMetrics> PerClass { get; init; }

    /// <summary>Gets the confusion matrix (rows = true labels, columns = predicted labels).</summary>
    public required ConfusionMatrix ConfusionMatrix { get; init; }

    /// <summary>
    /// Gets the top-k accuracy keyed by k, in ascending k: the share of images whose true label is among the
    /// k most probable classes. By default k = 1, 3 and 5, keeping only those no greater than the class count.
    /// </summary>
    public required IReadOnlyDictionary<int, double> TopKAccuracy { get; init; }

    /// <summary>Gets the mean negative natural log of the probability given to the true label, each clamped below at 1e-15.</summary>
    public required double LogLoss { get; init; }

    /// <summary>Gets the number of predictions evaluated.</summary>
    public required int SampleCount { get; init; }

    /// <summary>Gets the number of classes in the class list.</summary>
    public required int ClassCount { get; init; }

    /// <summary>
    /// Returns the <paramref name="n"/> weakest classes: lowest F1 first, then lowest recall, then label (ordinal).
    /// Classes that are neither a true nor a predicted label of any image are left out: there is no evidence about them.
    /// </summary>
    /// <param name="n">The most classes to return; fewer come back when fewer classes occur.</param>
    /// <returns>The weakest classes, weakest first.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="n"/> is negative.</exception>
    public IReadOnlyList<ClassMetrics> WorstClasses(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        return PerClass
            .Where(metrics => metrics.Support > 0 || metrics.PredictedCount > 0)
            .OrderBy(metrics => metrics.F1)
            .ThenBy(metrics => metrics.Recall)
            .ThenBy(metrics => metrics.Label, StringComparer.Ordinal)
            .Take(n)
            .ToArray();
    }

    /// <summary>Renders a fixed-width text summary followed by a per-class table.</summary>
    /// <returns>The report as plain text, ending in a new line.</returns>
    public string ToTable()
    {
        var builder = new StringBuilder();
        var summary = new List<string[]>
        {
            new[] { "Samples", TextTable.Integer(SampleCount) },
            new[] { "Classes", TextTable.Integer(ClassCount) },
            new[] { "Accuracy", TextTable.Number(Accuracy) },
        };
        summary.AddRange(TopKAccuracy.Select(pair => new[] { $"Top-{TextTable.Integer(pair.Key)} accuracy", TextTable.Number(pair.Value) }));
        summary.Add(["Log-loss", TextTable.Number(LogLoss)]);
        TextTable.Append(builder, ["Metric", "Value"], summary);

        builder.AppendLine();
        TextTable.Append(
            builder,
            ["Average", "Precision", "Recall", "F1"],
            [
                ["Macro", TextTable.Number(MacroPrecision), TextTable.Number(MacroRecall), TextTable.Number(MacroF1)],
                ["Weighted", TextTable.Number(WeightedPrecision), TextTable.Number(WeightedRecall), TextTable.Number(WeightedF1)],
            ]);

        builder.AppendLine();
        var rows = PerClass
            .Select(metrics => new[]
            {
                TextTable.FitStart(metrics.Label, MaxLabelWidth),
                TextTable.Number(metrics.Precision),
                TextTable.Number(metrics.Recall),
                TextTable.Number(metrics.F1),
                TextTable.Integer(metrics.Support),
                TextTable.Integer(metrics.PredictedCount),
            })
            .ToArray();
        TextTable.Append(builder, ["Class", "Precision", "Recall", "F1", "Support", "Predicted"], rows);
        return builder.ToString();
    }

    /// <summary>Returns the same text as <see cref="ToTable"/>.</summary>
    /// <returns>The report as plain text.</returns>
    public override string ToString() => ToTable();
}
