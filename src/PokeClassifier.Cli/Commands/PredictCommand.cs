using System.ComponentModel;
using System.Globalization;
using PokeClassifier.Data;
using PokeClassifier.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace PokeClassifier.Cli.Commands;

/// <summary><c>predict</c>: top-k labels of image files and folders.</summary>
internal sealed class PredictCommand(CliContext cli) : AsyncCommand<PredictCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
        [CommandArgument(0, "<model>")]
        [Description("A model saved by 'pokeclassifier train'.")]
        public string Model { get; init; } = string.Empty;

        [CommandArgument(1, "<paths>")]
        [Description("Image files or folders (searched recursively).")]
        public string[] Paths { get; init; } = [];

        [CommandOption("-k|--top <K>")]
        [Description("How many labels to show per image.")]
        [DefaultValue(5)]
        public int Top { get; init; } = 5;

        [CommandOption("--shard <I/N>")]
        [Description("Classify only shard I of N of the files (0-based; every N-th file by sorted path), e.g. --shard $JOB_COMPLETION_INDEX/8.")]
        public string? Shard { get; init; }

        public override ValidationResult Validate() => Top < 1 ? ValidationResult.Error("--top must be at least 1") : base.Validate();
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var shard = Inputs.Shard(settings.Shard);
        var (all, listedSkips) = Inputs.ExpandImages(settings.Paths);
        var files = shard.Count == 1 ? all : shard.Select(all);
        if (all.Count == 0 && listedSkips.Count == 0)
        {
            throw CliException.DataError($"No files found in {string.Join(", ", settings.Paths.Select(p => $"'{p}'"))}. Pass image files or folders of images.");
        }

        if (files.Count == 0)
        {
            cli.Console.MarkupLine($"Shard {shard} holds none of the {all.Count} file(s): nothing to classify.");
            return ExitCodes.Ok;
        }

        using var classifier = TrainedClassifier.Load(settings.Model);
        var results = await ProgressView.RunAsync(cli.Console, view => Task.Run(() =>
        {
            var list = new List<(string File, ClassPrediction? Prediction, string? Error)>();
            foreach (var file in files)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    list.Add((file, classifier.Predict(file, settings.Top), null));
                }
                catch (InvalidImageException e)
                {
                    list.Add((file, null, $"{e.Reason}: {e.Message}"));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // One unreadable file (permission denied, deleted since it was listed) is a row, not the end of the run.
                    list.Add((file, null, $"{SkipReason.Unreadable}: {e.Message}"));
                }

                view.Report("Classifying images", list.Count, files.Count);
            }

            list.AddRange(listedSkips.Select(s => (s.Path, (ClassPrediction?)null, (string?)$"{s.Reason}: {s.Detail}")));
            return list;
        }, cancellationToken)).ConfigureAwait(false);

        var table = new Table().Border(TableBorder.Rounded).AddColumn("Image").AddColumn("Label").AddColumn(new TableColumn("Probability").RightAligned()).AddColumn($"Top {settings.Top}");
        foreach (var (file, prediction, error) in results)
        {
            table.AddRow(
                Markup.Escape(file),
                prediction is null ? "[yellow]skipped[/]" : $"[bold]{Markup.Escape(prediction.Label)}[/]",
                prediction is null ? "-" : prediction.Probability.ToString("P1", CultureInfo.InvariantCulture),
                Markup.Escape(prediction?.ToString() ?? error ?? string.Empty));
        }

        cli.Console.Write(table);
        var failed = results.Count(r => r.Prediction is null);
        if (failed == results.Count)
        {
            throw CliException.DataError($"None of the {results.Count} file(s) is a usable image ({results[0].Error}).");
        }

        if (failed > 0)
        {
            cli.Console.MarkupLine($"[yellow]{failed} of {results.Count} file(s) skipped[/] (each is a row of the table above, with the reason).");
        }

        return ExitCodes.Ok;
    }
}
