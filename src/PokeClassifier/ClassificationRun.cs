using System.Globalization;
using System.Text;
using PokeClassifier.Data;
using PokeClassifier.Evaluation;
using PokeClassifier.Experiments;
using PokeClassifier.Pipeline;
using PokeClassifier.Training.Budget;
using PokeClassifier.Training;

namespace PokeClassifier;

/// <summary>The result of <see cref="ClassificationBuilder.RunAsync"/>: the trained classifier, the split it used and its reports.</summary>
public sealed class ClassificationRun : IDisposable
{
    internal ClassificationRun(ImageDataset dataset, DatasetSplit split, FoldOutcome outcome, ConfigurationResult result)
    {
        Dataset = dataset;
        Split = split;
        Classifier = outcome.Classifier;
        Evaluation = outcome.Evaluation!;
        Result = result;
        Skipped = dataset.Skipped.Concat(outcome.TrainingSkipped).Concat(Evaluation.Skipped).ToArray();
    }

    /// <summary>What a time budget chose (<see cref="ClassificationBuilder.WithTimeBudget"/>); <see langword="null"/> without one.</summary>
    public BudgetPlan? Plan { get; init; }

    /// <summary>Wall time of the whole run, from the call to the evaluated classifier.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>The dataset.</summary>
    public ImageDataset Dataset { get; }

    /// <summary>The split used.</summary>
    public DatasetSplit Split { get; }

    /// <summary>The trained classifier (owned by the run: dispose the run, or keep the classifier and dispose it yourself).</summary>
    public TrainedClassifier Classifier { get; }

    /// <summary>The test-set evaluation.</summary>
    public EvaluationResult Evaluation { get; }

    /// <summary>Shortcut for <c>Evaluation.Metrics</c>.</summary>
    public MetricReport Metrics => Evaluation.Metrics;

    /// <summary>Shortcut for <c>Evaluation.Errors</c>.</summary>
    public ErrorReport Errors => Evaluation.Errors;

    /// <summary>Every file skipped anywhere in the run (loading, training featurization, evaluation), with reasons.</summary>
    public IReadOnlyList<SkippedFile> Skipped { get; }

    /// <summary>
    /// The run as one configuration's result, the model an <see cref="Experiment"/> gives for each of its configurations: metrics,
    /// errors, predictions, training history, timings. <see cref="ExperimentResult.FromRun"/> wraps it for the reports.
    /// </summary>
    public ConfigurationResult Result { get; }

    /// <summary>Wall time per step (<see cref="ConfigurationTimings.EvaluationSeconds"/> included).</summary>
    public ConfigurationTimings Timings => Result.Timings;

    /// <summary>The seed that drove the split and the training.</summary>
    internal int Seed { get; init; }

    /// <summary>A printable summary: the metric table, the worst classes and the most-confused pairs.</summary>
    public string ToReport(int worstClasses = 10)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{Classifier} | {Dataset} | split: {Split}");
        sb.AppendLine(Timings.ToString());
        if (Classifier.Training is { } training)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"Training: {training}");
        }

        sb.AppendLine();
        sb.AppendLine(Metrics.ToTable());
        sb.AppendLine(CultureInfo.InvariantCulture, $"Worst {worstClasses} classes (by F1):");
        foreach (var c in Metrics.WorstClasses(worstClasses))
        {
            var mistakes = Errors.ByClass.TryGetValue(c.Label, out var list)
                ? string.Join(", ", list.GroupBy(e => e.PredictedLabel).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Take(3).Select(g => $"{g.Key} x{g.Count()}"))
                : "-";
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {c.Label,-16} F1 {c.F1:F3}  P {c.Precision:F3}  R {c.Recall:F3}  n={c.Support}  taken for: {mistakes}");
        }

        sb.AppendLine();
        sb.AppendLine(Errors.ToTable(10));
        if (Skipped.Count > 0)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"{Skipped.Count} file(s) skipped:");
            foreach (var s in Skipped.Take(20))
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"  {s}");
            }
        }

        return sb.ToString();
    }

    /// <inheritdoc />
    public void Dispose() => Classifier.Dispose();
}
