using System.Globalization;
using System.Text;
using PokeClassifier.Data;
using PokeClassifier.Evaluation;
using PokeClassifier.Training;

namespace PokeClassifier.Experiments;

/// <summary>
/// The outcome of <see cref="Experiment.RunAsync"/>: one <see cref="ConfigurationResult"/> per configuration, on the same data and
/// split. Immutable; constructible in tests. <see cref="ComparisonTable"/> prints the study's table; <c>PokeClassifier.Reporting</c>
/// writes Markdown, HTML and JSON reports.
/// </summary>
public sealed record ExperimentResult
{
    /// <summary>The class labels, in the order of probability vectors and confusion matrices.</summary>
    public required IReadOnlyList<string> Classes { get; init; }

    /// <summary>The results, in the order the configurations were added.</summary>
    public required IReadOnlyList<ConfigurationResult> Configurations { get; init; }

    /// <summary>A one-line description of the dataset (images, classes, skipped files).</summary>
    public string Dataset { get; init; } = string.Empty;

    /// <summary>The folder or manifest the dataset came from, when known; reports show image paths relative to it.</summary>
    public string? DatasetRoot { get; init; }

    /// <summary>A one-line description of the evaluation protocol, for example <c>split train 700, validation 0, test 300</c> or <c>5-fold</c>.</summary>
    public string Protocol { get; init; } = string.Empty;

    /// <summary>The number of folds (1 for a single split).</summary>
    /// <value>The default is 1.</value>
    public int FoldCount { get; init; } = 1;

    /// <summary>The seed that drove the split and the training.</summary>
    public int Seed { get; init; }

    /// <summary>Every file left out (when loading, or because it failed to decode while featurizing), with the reason.</summary>
    public IReadOnlyList<SkippedFile> Skipped { get; init; } = [];

    /// <summary>Wall time of the whole experiment in seconds.</summary>
    public double TotalSeconds { get; init; }

    /// <summary>The configuration with the highest <see cref="ConfigurationResult.ComparedMacroF1"/> (ties: higher accuracy, then the one added first).</summary>
    public ConfigurationResult? Best => Ranked is { Count: > 0 } ranked ? ranked[0] : null;

    /// <summary>The configurations from best to worst by <see cref="ConfigurationResult.ComparedMacroF1"/> (ties: higher accuracy, then the one added first).</summary>
    public IReadOnlyList<ConfigurationResult> Ranked => Configurations
        .Select((c, i) => (c, i))
        .OrderByDescending(x => x.c.ComparedMacroF1)
        .ThenByDescending(x => x.c.ComparedAccuracy)
        .ThenBy(x => x.i)
        .Select(x => x.c)
        .ToArray();

    /// <summary>
    /// The comparison table in the study's form: Configuration | Precision | Recall | F1 (macro) | Accuracy | Top-5 | train s | ms/img.
    /// For k-fold runs the metrics are the mean ± standard deviation over folds.
    /// </summary>
    /// <param name="includeTimings">Whether to include the two wall-clock columns (leave them out for output that must not vary between runs).</param>
    /// <returns>A fixed-width text table.</returns>
    public string ComparisonTable(bool includeTimings = true)
    {
        var header = new List<string> { "Configuration", "Precision", "Recall", "F1 (macro)", "Accuracy", "Top-5" };
        if (includeTimings)
        {
            header.AddRange(["train s", "ms/img"]);
        }

        var rows = Configurations.Select(c => ComparisonRow(c, includeTimings).ToArray()).ToArray();
        var builder = new StringBuilder();
        TextTable.Append(builder, header, rows);
        return builder.ToString();
    }

    /// <summary>The cells of <paramref name="configuration"/>'s row in <see cref="ComparisonTable"/>, for rendering it elsewhere.</summary>
    /// <param name="configuration">The configuration.</param>
    /// <param name="includeTimings">Whether to include the two wall-clock cells.</param>
    /// <returns>Name, precision, recall, F1, accuracy, top-5 (or <c>-</c>), and optionally train seconds and ms per image.</returns>
    public static IReadOnlyList<string> ComparisonRow(ConfigurationResult configuration, bool includeTimings = true)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return ComparisonCells(configuration, includeTimings).ToArray();
    }

    private static IEnumerable<string> ComparisonCells(ConfigurationResult configuration, bool includeTimings)
    {
        var cv = configuration.CrossValidation;
        var m = configuration.Metrics;
        yield return configuration.Name;
        yield return cv is null ? Number(m.MacroPrecision) : cv.MacroPrecision.ToString();
        yield return cv is null ? Number(m.MacroRecall) : cv.MacroRecall.ToString();
        yield return cv is null ? Number(m.MacroF1) : cv.MacroF1.ToString();
        yield return cv is null ? Number(m.Accuracy) : cv.Accuracy.ToString();
        yield return cv?.Top5Accuracy?.ToString() ?? (configuration.Top5Accuracy is { } t ? Number(t) : "-");
        if (includeTimings)
        {
            yield return configuration.Timings.TrainingSeconds.ToString("0.00", CultureInfo.InvariantCulture);
            yield return configuration.Timings.PredictionMillisecondsPerImage.ToString("0.0", CultureInfo.InvariantCulture);
        }
    }

    /// <summary>
    /// Wraps the evaluation of one trained classifier as a one-configuration result, so that the reports can show it
    /// (for example after <see cref="TrainedClassifier.EvaluateAsync"/> on a held-out folder).
    /// </summary>
    /// <param name="classifier">The classifier that was evaluated.</param>
    /// <param name="evaluation">Its evaluation.</param>
    /// <param name="dataset">The dataset the images came from, if known (for its description, root and skipped files).</param>
    /// <param name="name">The configuration's name; by default <c>backbone + head</c>.</param>
    /// <param name="modelSizeBytes">The size of the saved model file, if known (0: not measured).</param>
    public static ExperimentResult FromEvaluation(TrainedClassifier classifier, EvaluationResult evaluation, ImageDataset? dataset = null, string? name = null, long modelSizeBytes = 0)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(evaluation);
        var configuration = new ConfigurationResult
        {
            Name = name ?? $"{classifier.Backbone.Name} + {classifier.HeadDescription}",
            Backbone = classifier.Backbone.Name,
            Head = classifier.HeadDescription,
            TrainingPath = classifier.TrainingPath,
            Metrics = evaluation.Metrics,
            Errors = evaluation.Errors,
            Predictions = evaluation.Predictions,
            Timings = new ConfigurationTimings { PredictionMillisecondsPerImage = evaluation.MillisecondsPerImage },
            Folds = [new FoldResult { Fold = 0, TrainCount = 0, TestCount = evaluation.Metrics.SampleCount, Metrics = evaluation.Metrics }],
            ModelSizeBytes = modelSizeBytes,
        };
        return new ExperimentResult
        {
            Classes = classifier.Classes,
            Configurations = [configuration],
            Dataset = dataset?.ToString() ?? string.Create(CultureInfo.InvariantCulture, $"{evaluation.Metrics.SampleCount} images"),
            DatasetRoot = dataset?.Root,
            Protocol = string.Create(CultureInfo.InvariantCulture, $"evaluation of a saved model on {evaluation.Metrics.SampleCount} images"),
            Skipped = Ordered((dataset?.Skipped ?? []).Concat(evaluation.Skipped)),
        };
    }

    /// <summary>
    /// Wraps a single run (<see cref="ClassificationBuilder.RunAsync"/>) as a one-configuration result, so that the reports show it
    /// as they show an experiment: its <see cref="ClassificationRun.Result"/>, split, seed and every skipped file.
    /// </summary>
    /// <param name="run">The run.</param>
    /// <param name="modelSizeBytes">The size of the saved model file, if known (0: not measured).</param>
    public static ExperimentResult FromRun(ClassificationRun run, long modelSizeBytes = 0)
    {
        ArgumentNullException.ThrowIfNull(run);
        return new ExperimentResult
        {
            Classes = run.Classifier.Classes,
            Configurations = [run.Result with { ModelSizeBytes = modelSizeBytes }],
            Dataset = run.Dataset.ToString(),
            DatasetRoot = run.Dataset.Root,
            Protocol = $"split: {run.Split}",
            Seed = run.Seed,
            Skipped = Ordered(run.Skipped),
            TotalSeconds = run.Elapsed.TotalSeconds,
        };
    }

    /// <summary>The dataset, the protocol and the comparison table.</summary>
    public override string ToString() => $"{Dataset} | {Protocol}{Environment.NewLine}{ComparisonTable()}";

    /// <summary>Each skipped file once, by path.</summary>
    internal static SkippedFile[] Ordered(IEnumerable<SkippedFile> skipped) =>
        skipped.DistinctBy(s => s.Path, StringComparer.Ordinal).OrderBy(s => s.Path, StringComparer.Ordinal).ToArray();

    private static string Number(double value) => value.ToString("0.0000", CultureInfo.InvariantCulture);
}
