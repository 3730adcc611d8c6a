using PokeClassifier.Experiments;
using PokeClassifier.Reporting;
using Spectre.Console;

namespace PokeClassifier.Cli;

/// <summary>Writes the three reports and says where they are.</summary>
internal static class Reports
{
    public static void Write(IAnsiConsole console, ExperimentResult result, string directory, string data, string order = "auto", int focus = 20)
    {
        IReadOnlyList<string>? classOrder = null;
        if (order is "auto" or "id" && File.Exists(data) && data.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
        {
            classOrder = ClassOrder.FromManifest(data, "id");
        }

        if (order == "id" && classOrder is null)
        {
            throw CliException.Usage("--order id needs a manifest .csv with an 'id' column; use --order confusion or --order list.");
        }

        var options = new HtmlReportOptions
        {
            Title = result.Configurations.Count > 1 ? "PokeClassifier comparison" : $"PokeClassifier evaluation: {result.Configurations[0].Name}",
            ClassOrder = order == "list" || order == "confusion" ? null : classOrder,
            Ordering = order == "list" ? ClassOrdering.ClassList : ClassOrdering.ByConfusion,
            FocusClassCount = focus,
        };
        var paths = ExperimentReport.WriteAll(result, directory, options);
        console.MarkupLine($"Reports: {string.Join(", ", paths.Select(p => $"[link]{Markup.Escape(p)}[/]"))}");
    }
}
