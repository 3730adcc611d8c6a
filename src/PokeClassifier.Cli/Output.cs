using System.Globalization;
using PokeClassifier.Evaluation;
using PokeClassifier.Experiments;
using Spectre.Console;

namespace PokeClassifier.Cli;

/// <summary>Prints results as Spectre tables.</summary>
internal static class Output
{
    public static void Metrics(IAnsiConsole console, MetricReport metrics, ErrorReport errors, int worst = 10, int pairs = 10)
    {
        var summary = new Table().Border(TableBorder.Rounded).Title("Test metrics").AddColumn("Metric").AddColumn(new TableColumn("Value").RightAligned());
        summary.AddRow("Images", metrics.SampleCount.ToString(CultureInfo.InvariantCulture));
        summary.AddRow("Classes", metrics.ClassCount.ToString(CultureInfo.InvariantCulture));
        summary.AddRow("Accuracy", N(metrics.Accuracy));
        summary.AddRow("Precision (macro)", N(metrics.MacroPrecision));
        summary.AddRow("Recall (macro)", N(metrics.MacroRecall));
        summary.AddRow("F1 (macro)", N(metrics.MacroF1));
        foreach (var (k, v) in metrics.TopKAccuracy.Where(kv => kv.Key > 1))
        {
            summary.AddRow($"Top-{k} accuracy", N(v));
        }

        summary.AddRow("Log-loss", N(metrics.LogLoss));
        console.Write(summary);

        var worstClasses = metrics.WorstClasses(worst).Where(c => c.F1 < 1).ToArray();
        if (worstClasses.Length > 0)
        {
            var table = new Table().Border(TableBorder.Rounded).Title($"Worst {worstClasses.Length} classes (by F1)")
                .AddColumn("Class").AddColumn(new TableColumn("F1").RightAligned()).AddColumn(new TableColumn("P").RightAligned()).AddColumn(new TableColumn("R").RightAligned())
                .AddColumn(new TableColumn("n").RightAligned()).AddColumn("Taken for");
            foreach (var c in worstClasses)
            {
                var takenFor = errors.ByClass.TryGetValue(c.Label, out var list)
                    ? string.Join(", ", list.GroupBy(e => e.PredictedLabel, StringComparer.Ordinal).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Take(3).Select(g => $"{g.Key} x{g.Count()}"))
                    : "-";
                table.AddRow(Markup.Escape(c.Label), N(c.F1), N(c.Precision), N(c.Recall), c.Support.ToString(CultureInfo.InvariantCulture), Markup.Escape(takenFor));
            }

            console.Write(table);
        }

        if (errors.MostConfusedPairs.Count > 0)
        {
            var table = new Table().Border(TableBorder.Rounded).Title("Most-confused pairs").AddColumn("True").AddColumn("Taken for").AddColumn(new TableColumn("Count").RightAligned());
            foreach (var p in errors.MostConfusedPairs.Take(pairs))
            {
                table.AddRow(Markup.Escape(p.TrueLabel), Markup.Escape(p.PredictedLabel), p.Count.ToString(CultureInfo.InvariantCulture));
            }

            console.Write(table);
        }
    }

    public static void Comparison(IAnsiConsole console, ExperimentResult result)
    {
        var table = new Table().Border(TableBorder.Rounded).Title($"Comparison ({Markup.Escape(result.Protocol)})");
        foreach (var h in new[] { "Configuration", "Precision", "Recall", "F1 (macro)", "Accuracy", "Top-5", "train s", "ms/img" })
        {
            table.AddColumn(h == "Configuration" ? new TableColumn(h) : new TableColumn(h).RightAligned());
        }

        var best = result.Best;
        foreach (var c in result.Configurations)
        {
            var cells = ExperimentResult.ComparisonRow(c, includeTimings: true).Select(Markup.Escape).ToArray();
            if (ReferenceEquals(c, best) && result.Configurations.Count > 1)
            {
                cells = cells.Select(x => $"[bold green]{x}[/]").ToArray();
            }

            table.AddRow(cells);
        }

        console.Write(table);
    }

    /// <summary>How many skipped files are printed; beyond it the full list goes to a file whose path is printed.</summary>
    public const int SkippedShown = 20;

    /// <summary>
    /// Lists skipped files: every one when there are at most <see cref="SkippedShown"/>, else the first ones and the path of a CSV
    /// with all of them (in <paramref name="folder"/> when given, else in the temporary folder).
    /// </summary>
    public static void Skipped(IAnsiConsole console, IReadOnlyCollection<PokeClassifier.Data.SkippedFile> skipped, string? folder = null)
    {
        if (skipped.Count == 0)
        {
            return;
        }

        var distinct = skipped.DistinctBy(s => (s.Path, s.Reason)).OrderBy(s => s.Path, StringComparer.Ordinal).ToArray();
        console.MarkupLine($"[yellow]{distinct.Length} file(s) skipped[/]{(distinct.Length > SkippedShown ? $", the first {SkippedShown}" : string.Empty)}:");
        foreach (var s in distinct.Take(SkippedShown))
        {
            console.MarkupLine($"  {Markup.Escape(s.ToString())}");
        }

        if (distinct.Length <= SkippedShown)
        {
            return;
        }

        var path = Path.GetFullPath(folder is null
            ? Path.Combine(Path.GetTempPath(), $"pokeclassifier-skipped-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}.csv")
            : Path.Combine(folder, "skipped.csv"));
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var lines = distinct.Select(s => string.Join(",", Csv(s.Path), Csv(s.Label ?? string.Empty), s.Reason.ToString(), Csv(s.Detail)));
            File.WriteAllLines(path, lines.Prepend("path,label,reason,detail"));
            console.MarkupLine($"  ... the full list of {distinct.Length} is in {Markup.Escape(path)}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            console.MarkupLine($"  ... and {distinct.Length - SkippedShown} more (the full list could not be written to {Markup.Escape(path)}: {Markup.Escape(e.Message)}); run with --report DIR to keep it");
        }
    }

    private static string Csv(string value) =>
        value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;

    public static string N(double value) => value.ToString("0.0000", CultureInfo.InvariantCulture);
}
