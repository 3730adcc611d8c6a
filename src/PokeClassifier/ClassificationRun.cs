using System.Globalization;
using System.Text;
using PokeClassifier.Data;
using PokeClassifier.Evaluation;
using PokeClassifier.Training;

namespace PokeClassifier;

/// <summary>Wall time of each step of a run.</summary>
public sealed record RunTimings
{
    /// <summary>Featurizing the training and validation images (near zero when cached).</summary>
    public TimeSpan Featurization { get; init; }

    /// <summary>Fitting the head on the features.</summary>
    public TimeSpan Training { get; init; }

    /// <summary>Featurizing and predicting the test images and computing the reports.</summary>
    public TimeSpan Evaluation { get; init; }

    /// <summary>Training images served by the feature cache.</summary>
    public int CacheHits { get; init; }

    /// <summary>Training images that went through the backbone.</summary>
    public int Computed { get; init; }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"featurization {Featurization.TotalSeconds:F1} s ({Computed} computed, {CacheHits} cached), training {Training.TotalSeconds:F1} s, evaluation {Evaluation.TotalSeconds:F1} s");
}

/// <summary>The result of <see cref="ClassificationBuilder.RunAsync"/>: the trained classifier, the split it used and its reports.</summary>
public sealed class ClassificationRun : IDisposable
{
    internal ClassificationRun(ImageDataset dataset, DatasetSplit split, TrainedClassifier classifier, EvaluationResult evaluation, IReadOnlyList<SkippedFile> trainingSkipped, RunTimings timings)
    {
        Dataset = dataset;
        Split = split;
        Classifier = classifier;
        Evaluation = evaluation;
        Timings = timings;
        Skipped = dataset.Skipped.Concat(trainingSkipped).Concat(evaluation.Skipped).ToArray();
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

    /// <summary>Wall time per step.</summary>
    public RunTimings Timings { get; }

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
