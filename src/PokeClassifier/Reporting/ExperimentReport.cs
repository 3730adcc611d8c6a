using System.Text;
using PokeClassifier.Experiments;

namespace PokeClassifier.Reporting;

/// <summary>
/// Writes an <see cref="ExperimentResult"/> as Markdown (terminals, pull requests), one self-contained HTML file (charts as inline SVG,
/// thumbnails embedded, opens offline) or JSON (machines). The same result always gives the same Markdown and JSON bytes;
/// wall-clock measurements are the only numbers that differ between two runs with the same seed.
/// </summary>
public static class ExperimentReport
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>The Markdown report: the comparison table, the verdict and, per configuration, worst classes, most-confused pairs and per-class metrics.</summary>
    public static string ToMarkdown(ExperimentResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return MarkdownReport.Build(result);
    }

    /// <summary>Writes <see cref="ToMarkdown"/> to <paramref name="path"/> (UTF-8, no BOM), creating its folder.</summary>
    public static void WriteMarkdown(ExperimentResult result, string path) => Write(path, ToMarkdown(result));

    /// <summary>
    /// The JSON report (format version 1): camelCase names; doubles in shortest round-trippable form; per configuration the metrics
    /// (per class, confusion matrix), folds, errors, training history, and a <c>measurements</c> object with every wall-clock value.
    /// </summary>
    public static string ToJson(ExperimentResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return JsonReport.Build(result);
    }

    /// <summary>Writes <see cref="ToJson"/> to <paramref name="path"/> (UTF-8, no BOM), creating its folder.</summary>
    public static void WriteJson(ExperimentResult result, string path) => Write(path, ToJson(result));

    /// <summary>The self-contained HTML report. See <c>docs/reports.md</c> for what each section shows.</summary>
    /// <exception cref="ArgumentException"><paramref name="options"/> is invalid (every problem listed).</exception>
    public static string ToHtml(ExperimentResult result, HtmlReportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        options ??= new HtmlReportOptions();
        options.Validate();
        return HtmlReport.Build(result, options);
    }

    /// <summary>Writes <see cref="ToHtml"/> to <paramref name="path"/> (UTF-8, no BOM), creating its folder.</summary>
    public static void WriteHtml(ExperimentResult result, string path, HtmlReportOptions? options = null) => Write(path, ToHtml(result, options));

    /// <summary>Writes the three reports into <paramref name="directory"/> as <c>report.md</c>, <c>report.html</c> and <c>report.json</c>.</summary>
    /// <returns>The three paths, in that order.</returns>
    public static IReadOnlyList<string> WriteAll(ExperimentResult result, string directory, HtmlReportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var md = Path.Combine(directory, "report.md");
        var html = Path.Combine(directory, "report.html");
        var json = Path.Combine(directory, "report.json");
        WriteMarkdown(result, md);
        WriteHtml(result, html, options);
        WriteJson(result, json);
        return [md, html, json];
    }

    private static void Write(string path, string text)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = full + ".tmp";
        File.WriteAllText(temp, text, Utf8);
        File.Move(temp, full, overwrite: true);
    }
}
