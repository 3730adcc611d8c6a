using System.Globalization;
using PokeClassifier.Evaluation;
using PokeClassifier.Experiments;

namespace PokeClassifier.Reporting;

/// <summary>Formatting shared by the Markdown, HTML and JSON reports.</summary>
internal static class ReportText
{
    public static string Number(double value) => value.ToString("0.0000", CultureInfo.InvariantCulture);

    public static string Percent(double value) => (value * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    public static string Fixed(double value, int decimals) => value.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    public static string Integer(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static string Megabytes(long bytes) => bytes <= 0 ? "-" : (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture);

    /// <summary>A path relative to the dataset's folder when it lies inside it, with forward slashes.</summary>
    public static string DisplayPath(string path, string? datasetRoot)
    {
        if (datasetRoot is null)
        {
            return path;
        }

        var root = File.Exists(datasetRoot) || Path.HasExtension(datasetRoot) && !Directory.Exists(datasetRoot) ? Path.GetDirectoryName(datasetRoot) : datasetRoot;
        if (string.IsNullOrEmpty(root))
        {
            return path;
        }

        var relative = Path.GetRelativePath(root, path);
        return relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? path : relative.Replace('\\', '/');
    }

    /// <summary>What a class is most often taken for: <c>B x3, C x1</c>.</summary>
    public static string TakenFor(ErrorReport errors, string label, int max = 3) =>
        errors.ByClass.TryGetValue(label, out var list)
            ? string.Join(", ", list.GroupBy(e => e.PredictedLabel, StringComparer.Ordinal)
                .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
                .Take(max).Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Key} x{g.Count()}")))
            : "-";

    /// <summary>The metric shown for a configuration: the pooled value, or mean ± sd for k-fold.</summary>
    public static string Metric(ConfigurationResult c, Func<MetricReport, double> pooled, Func<CrossValidationSummary, MetricSpread?> spread)
    {
        var s = c.CrossValidation is null ? null : spread(c.CrossValidation);
        return s is null ? Number(pooled(c.Metrics)) : s.ToString();
    }

    /// <summary>One sentence: who wins, by how much, at what cost.</summary>
    public static string Verdict(ExperimentResult result)
    {
        var ranked = result.Ranked;
        if (ranked.Count == 0)
        {
            return "No configuration was run.";
        }

        var best = ranked[0];
        if (ranked.Count == 1)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"{best.Name}: macro F1 {Number(best.ComparedMacroF1)}, accuracy {Number(best.ComparedAccuracy)}; training {Fixed(best.Timings.TrainingSeconds, 2)} s, prediction {Fixed(best.Timings.PredictionMillisecondsPerImage, 1)} ms/image.");
        }

        var second = ranked[1];
        var margin = best.ComparedMacroF1 - second.ComparedMacroF1;
        var noise = best.CrossValidation is { } cv && second.CrossValidation is { } cv2
            ? Math.Max(cv.MacroF1.StandardDeviation, cv2.MacroF1.StandardDeviation)
            : (double?)null;
        var within = noise is { } sd && margin < sd ? $" (within one standard deviation over folds, {Number(sd)}: not a clear win)" : string.Empty;
        return string.Create(CultureInfo.InvariantCulture,
            $"{best.Name} wins: macro F1 {Number(best.ComparedMacroF1)} vs {Number(second.ComparedMacroF1)} for {second.Name} (+{Number(margin)}){within}; " +
            $"accuracy {Number(best.ComparedAccuracy)} vs {Number(second.ComparedAccuracy)}. Cost: training {Fixed(best.Timings.TrainingSeconds, 2)} s vs {Fixed(second.Timings.TrainingSeconds, 2)} s, " +
            $"prediction {Fixed(best.Timings.PredictionMillisecondsPerImage, 1)} vs {Fixed(second.Timings.PredictionMillisecondsPerImage, 1)} ms/image, model {Megabytes(best.ModelSizeBytes)} vs {Megabytes(second.ModelSizeBytes)} MB.");
    }

    /// <summary>The images shown in each top-losses list of the Markdown and JSON reports.</summary>
    public const int TopLossCount = 10;

    /// <summary>The top losses of a configuration from its predictions; <see langword="null"/> when it kept none (or they do not fit the class list).</summary>
    public static TopLossReport? TopLosses(ExperimentResult result, ConfigurationResult configuration, int count)
    {
        if (configuration.Predictions.Count == 0)
        {
            return null;
        }

        try
        {
            return Evaluator.ComputeTopLosses(result.Classes, configuration.Predictions, count);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
