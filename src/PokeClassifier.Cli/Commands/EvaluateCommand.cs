using System.ComponentModel;
using PokeClassifier.Experiments;
using PokeClassifier.Features;
using PokeClassifier.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace PokeClassifier.Cli.Commands;

/// <summary><c>evaluate</c>: metrics of a saved model on labelled images, and optionally the reports.</summary>
internal sealed class EvaluateCommand(CliContext cli) : AsyncCommand<EvaluateCommand.Settings>
{
    public sealed class Settings : FeaturizingSettings
    {
        [CommandArgument(0, "<model>")]
        [Description("A model saved by 'pokeclassifier train'.")]
        public string Model { get; init; } = string.Empty;

        [CommandArgument(1, "<data>")]
        [Description("Labelled images: a folder with one sub-folder per class, or a manifest .csv.")]
        public string Data { get; init; } = string.Empty;

        [CommandOption("--classes <LIST>")]
        [Description("Evaluate only these classes (comma-separated labels).")]
        public string? Classes { get; init; }

        [CommandOption("--report <DIR>")]
        [Description("Write report.md, report.html and report.json into this folder.")]
        public string? Report { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var console = cli.Console;
        using var classifier = TrainedClassifier.Load(settings.Model, options: settings.FeaturizerOptions(cli.Warn));
        var (dataset, evaluation, left) = await ProgressView.RunAsync(console, async view =>
        {
            var classes = settings.Classes?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var data = await Inputs.LoadAsync(settings.Data, classes, view.For<int>((v, n) => v.Report("Checking images", n, 0)), cancellationToken).ConfigureAwait(false);
            var known = classifier.Classes.ToHashSet(StringComparer.Ordinal);
            var usable = data.Items.Where(i => known.Contains(i.Label)).ToArray();
            var unknown = data.Classes.Where(c => !known.Contains(c)).ToArray();
            if (usable.Length == 0)
            {
                throw CliException.DataError($"None of the {data.Classes.Count} classes of '{settings.Data}' is one the model was trained on ({string.Join(", ", classifier.Classes.Take(5))}...). Check that the folder names match the model's classes.");
            }

            var result = await classifier.EvaluateAsync(usable, view.For<FeaturizationProgress>((v, p) => v.Report("Evaluating images", p.Completed, p.Total)), cancellationToken).ConfigureAwait(false);
            view.Complete();
            return (data, result, unknown);
        }).ConfigureAwait(false);

        cli.FlushWarnings();
        console.MarkupLine($"Model: {Markup.Escape(classifier.ToString())}");
        console.MarkupLine($"Data: {Markup.Escape(dataset.ToString())}");
        if (left.Length > 0)
        {
            console.MarkupLine($"[yellow]Left out[/] {left.Length} class(es) the model was not trained on: {Markup.Escape(string.Join(", ", left.Take(10)))}{(left.Length > 10 ? ", ..." : string.Empty)}");
        }

        Output.Metrics(console, evaluation.Metrics, evaluation.Errors);
        Output.Skipped(console, dataset.Skipped.Concat(evaluation.Skipped).ToArray(), settings.Report);

        if (settings.Report is not null)
        {
            var result = ExperimentResult.FromEvaluation(classifier, evaluation, dataset, modelSizeBytes: new FileInfo(settings.Model).Length);
            Reports.Write(console, result, settings.Report, settings.Data);
        }

        return ExitCodes.Ok;
    }
}
