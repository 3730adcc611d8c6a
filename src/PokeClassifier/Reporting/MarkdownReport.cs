using System.Globalization;
using System.Text;
using PokeClassifier.Evaluation;
using PokeClassifier.Experiments;

namespace PokeClassifier.Reporting;

/// <summary>Writes the Markdown report: plain tables for terminals and pull requests.</summary>
internal static class MarkdownReport
{
    public static string Build(ExperimentResult result, int worstClasses = 10, int confusedPairs = 10)
    {
        var md = new StringBuilder();
        md.Append("# Experiment report\n\n");
        md.Append(CultureInfo.InvariantCulture, $"- Dataset: {Escape(result.Dataset)}\n");
        md.Append(CultureInfo.InvariantCulture, $"- Protocol: {Escape(result.Protocol)}\n");
        md.Append(CultureInfo.InvariantCulture, $"- Seed: {result.Seed}; classes: {result.Classes.Count}; configurations: {result.Configurations.Count}\n\n");
        md.Append("## Comparison\n\n");
        var kfold = result.FoldCount > 1 ? " (mean ± standard deviation over folds)" : string.Empty;
        md.Append(CultureInfo.InvariantCulture, $"Macro averages over classes{kfold}; times are wall-clock.\n\n");
        Table(md, ["Configuration", "Precision", "Recall", "F1 (macro)", "Accuracy", "Top-5", "train s", "ms/img", "model MB", "peak MB"],
            result.Configurations.Select(c => ExperimentResult.ComparisonRow(c, includeTimings: true)
                .Concat([ReportText.Megabytes(c.ModelSizeBytes), ReportText.Megabytes(c.PeakMemoryBytes)]).ToArray()));
        md.Append('\n').Append(Escape(ReportText.Verdict(result))).Append("\n\n");

        foreach (var c in result.Configurations)
        {
            md.Append(CultureInfo.InvariantCulture, $"## {Escape(c.Name)}\n\n");
            md.Append(CultureInfo.InvariantCulture, $"- Backbone: {Escape(c.Backbone)}; head: {Escape(c.Head)}; path: {Escape(c.TrainingPath)}; fine-tuned: {(c.FineTuned ? "yes" : "no")}\n");
            md.Append(CultureInfo.InvariantCulture, $"- Test images: {c.Metrics.SampleCount}; misclassified: {c.Errors.All.Count}; log-loss: {ReportText.Number(c.Metrics.LogLoss)}; weighted F1: {ReportText.Number(c.Metrics.WeightedF1)}\n");
            md.Append(CultureInfo.InvariantCulture, $"- Costs: {c.Timings}; model {ReportText.Megabytes(c.ModelSizeBytes)} MB; peak memory {ReportText.Megabytes(c.PeakMemoryBytes)} MB\n\n");
            if (c.Folds.Count > 1)
            {
                md.Append("### Folds\n\n");
                Table(md, ["Fold", "Train", "Test", "Accuracy", "F1 (macro)", "train s"], c.Folds.Select(f => new[]
                {
                    ReportText.Integer(f.Fold + 1), ReportText.Integer(f.TrainCount), ReportText.Integer(f.TestCount),
                    ReportText.Number(f.Metrics.Accuracy), ReportText.Number(f.Metrics.MacroF1), ReportText.Fixed(f.TrainingSeconds, 2),
                }));
                md.Append('\n');
            }

            md.Append(CultureInfo.InvariantCulture, $"### Worst {worstClasses} classes (by F1)\n\n");
            Table(md, ["Class", "F1", "Precision", "Recall", "Support", "Taken for"], c.Metrics.WorstClasses(worstClasses).Select(m => new[]
            {
                m.Label, ReportText.Number(m.F1), ReportText.Number(m.Precision), ReportText.Number(m.Recall), ReportText.Integer(m.Support), ReportText.TakenFor(c.Errors, m.Label),
            }));
            md.Append('\n');
            md.Append("### Most-confused pairs\n\n");
            if (c.Errors.MostConfusedPairs.Count == 0)
            {
                md.Append("No misclassified images.\n\n");
            }
            else
            {
                Table(md, ["True", "Predicted", "Count", "Most confident example"], c.Errors.MostConfusedPairs.Take(confusedPairs).Select(p =>
                {
                    var example = c.Errors.ByClass[p.TrueLabel].First(e => e.PredictedLabel == p.PredictedLabel);
                    return new[]
                    {
                        p.TrueLabel, p.PredictedLabel, ReportText.Integer(p.Count),
                        $"{ReportText.DisplayPath(example.Path, result.DatasetRoot)} ({ReportText.Percent(example.PredictedProbability)})",
                    };
                }));
                md.Append('\n');
            }

            TopLosses(md, result, c);
            md.Append(CultureInfo.InvariantCulture, $"<details><summary>Per-class metrics ({c.Metrics.PerClass.Count} classes)</summary>\n\n");
            Table(md, ["Class", "Precision", "Recall", "F1", "Support", "Predicted"], c.Metrics.PerClass.Select(m => new[]
            {
                m.Label, ReportText.Number(m.Precision), ReportText.Number(m.Recall), ReportText.Number(m.F1), ReportText.Integer(m.Support), ReportText.Integer(m.PredictedCount),
            }));
            md.Append("\n</details>\n\n");
        }

        md.Append("## Skipped files\n\n");
        if (result.Skipped.Count == 0)
        {
            md.Append("None.\n");
        }
        else
        {
            Table(md, ["File", "Class", "Reason", "Detail"], result.Skipped.Select(s => new[]
            {
                ReportText.DisplayPath(s.Path, result.DatasetRoot), s.Label ?? "-", s.Reason.ToString(), s.Detail,
            }));
        }

        return md.ToString();
    }

    private static void TopLosses(StringBuilder md, ExperimentResult result, ConfigurationResult c)
    {
        md.Append("### Top losses\n\n");
        if (ReportText.TopLosses(result, c, ReportText.TopLossCount) is not { } top)
        {
            md.Append("No per-image predictions were kept.\n\n");
            return;
        }

        foreach (var (title, images, total) in new[]
        {
            ("Most confident errors", top.MostConfidentErrors, top.ErrorCount),
            ("Least confident correct predictions", top.LeastConfidentCorrect, top.CorrectCount),
        })
        {
            md.Append(CultureInfo.InvariantCulture, $"{title} ({images.Count} of {total}):\n\n");
            if (images.Count == 0)
            {
                md.Append("None.\n\n");
                continue;
            }

            Table(md, ["Image", "File", "True", "Predicted", "P(pred)", "P(true)", "Loss"], images.Select(e =>
            {
                var path = ReportText.DisplayPath(e.Path, result.DatasetRoot);
                return new[]
                {
                    $"<img src=\"{Uri.EscapeDataString(e.Path).Replace("%2F", "/", StringComparison.Ordinal)}\" width=\"48\" alt=\"{Path.GetFileName(e.Path)}\">",
                    path, e.TrueLabel, e.PredictedLabel, ReportText.Number(e.PredictedProbability), ReportText.Number(e.TrueLabelProbability), ReportText.Number(e.Loss),
                };
            }));
            md.Append('\n');
        }
    }

    private static void Table(StringBuilder md, string[] header, IEnumerable<string[]> rows)
    {
        md.Append("| ").Append(string.Join(" | ", header.Select(Escape))).Append(" |\n");
        md.Append('|').Append(string.Join("|", header.Select((h, i) => i == 0 || h is "Class" or "True" or "Predicted" or "File" or "Image" or "Reason" or "Detail" or "Taken for" or "Most confident example" ? "---" : "---:"))).Append("|\n");
        foreach (var row in rows)
        {
            md.Append("| ").Append(string.Join(" | ", row.Select(Escape))).Append(" |\n");
        }
    }

    private static string Escape(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal).Replace("\r", string.Empty, StringComparison.Ordinal);
}
