using System.ComponentModel;
using System.Globalization;
using System.Text;
using System.Text.Json;
using PokeClassifier.Data;
using PokeClassifier.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace PokeClassifier.Cli.Commands;

/// <summary>
/// <c>predict</c>: top-k labels of image files and folders, streamed through <see cref="TrainedClassifier.PredictAsync(IEnumerable{string}, int, IProgress{PredictionProgress}?, CancellationToken)"/>:
/// each row is written as soon as it is ready, so memory stays flat whatever the number of files.
/// </summary>
internal sealed class PredictCommand(CliContext cli) : AsyncCommand<PredictCommand.Settings>
{
    public sealed class Settings : FeaturizingSettings
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

        [CommandOption("-f|--format <FORMAT>")]
        [Description("Output format: table (aligned rows), csv (path,label,probability,top,skipped,detail) or json (an array of objects). Rows are written as they come.")]
        [DefaultValue("table")]
        public string Format { get; init; } = "table";

        [CommandOption("-o|--out <FILE>")]
        [Description("Write the rows to this file instead of the console (a progress line is shown meanwhile).")]
        public string? Out { get; init; }

        public override ValidationResult Validate()
        {
            if (Top < 1)
            {
                return ValidationResult.Error("--top must be at least 1");
            }

            return Format.ToLowerInvariant() is "table" or "csv" or "json"
                ? base.Validate()
                : ValidationResult.Error($"--format '{Format}' is not one of table, csv, json");
        }
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

        if (files.Count == 0 && listedSkips.Count == 0)
        {
            cli.Console.MarkupLine($"Shard {shard} holds none of the {all.Count} file(s): nothing to classify.");
            return ExitCodes.Ok;
        }

        using var classifier = TrainedClassifier.Load(settings.Model, options: settings.FeaturizerOptions(cli.Warn));
        var format = settings.Format.ToLowerInvariant();
        var topK = Math.Min(settings.Top, classifier.Classes.Count);
        var counts = new Counts();
        if (settings.Out is null)
        {
            using var writer = RowWriter.Create(format, cli.Console, null, topK, classifier.Classes);
            await WriteAsync(classifier, files, listedSkips, topK, writer, counts, null, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var full = Path.GetFullPath(settings.Out);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            await ProgressView.RunAsync(cli.Console, async view =>
            {
                using var writer = RowWriter.Create(format, cli.Console, new StreamWriter(full, append: false, new UTF8Encoding(false)), topK, classifier.Classes);
                var progress = view.For<PredictionProgress>((v, p) => v.Report("Classifying images", p.Completed, 0));
                await WriteAsync(classifier, files, listedSkips, topK, writer, counts, progress, cancellationToken).ConfigureAwait(false);
                view.Complete();
                return 0;
            }).ConfigureAwait(false);
            cli.Console.MarkupLine($"Wrote {counts.Rows} row(s) to {Markup.Escape(full)} ({counts.Skipped} skipped).");
        }

        if (counts.Skipped == counts.Rows)
        {
            throw CliException.DataError($"None of the {counts.Rows} file(s) is a usable image ({counts.FirstError}).");
        }

        if (counts.Skipped > 0)
        {
            // Machine-readable output on the console stays clean: the note goes to the error stream.
            var note = $"{counts.Skipped} of {counts.Rows} file(s) skipped: not usable images (see their rows).";
            if (settings.Out is null && format != "table")
            {
                CliApp.ErrorLine(cli.Errors, "note", note);
            }
            else
            {
                cli.Console.MarkupLine($"[yellow]{Markup.Escape(note)}[/]");
            }
        }

        return ExitCodes.Ok;
    }

    private static async Task WriteAsync(TrainedClassifier classifier, IReadOnlyList<string> files, IReadOnlyList<SkippedFile> listedSkips, int topK, RowWriter writer, Counts counts, IProgress<PredictionProgress>? progress, CancellationToken cancellationToken)
    {
        void Write(ImagePrediction row)
        {
            counts.Rows++;
            if (!row.Succeeded)
            {
                counts.Skipped++;
                counts.FirstError ??= $"{row.Skipped.Reason}: {row.Skipped.Detail}";
            }

            writer.Row(row);
        }

        writer.Begin();
        await foreach (var row in classifier.PredictAsync(files, topK, progress, cancellationToken).ConfigureAwait(false))
        {
            Write(row);
        }

        // What the listing refused without opening (FIFOs, devices, folder links, folders that cannot be listed) comes last, as rows.
        foreach (var skipped in listedSkips)
        {
            Write(new ImagePrediction { Index = files.Count + counts.Rows, Path = skipped.Path, Skipped = skipped });
        }

        writer.End();
    }

    private sealed class Counts
    {
        public long Rows { get; set; }

        public long Skipped { get; set; }

        public string? FirstError { get; set; }
    }

    /// <summary>Writes rows one by one, flushing each, in one of the three formats.</summary>
    private abstract class RowWriter : IDisposable
    {
        public static RowWriter Create(string format, IAnsiConsole console, TextWriter? file, int topK, IReadOnlyList<string> classes) => format switch
        {
            "csv" => new CsvRows(file ?? console.Profile.Out.Writer) { Owned = file },
            "json" => new JsonRows(file ?? console.Profile.Out.Writer) { Owned = file },
            _ => file is null ? new ConsoleTableRows(console, topK, classes) : new TextTableRows(file, topK, classes) { Owned = file },
        };

        public virtual void Begin()
        {
        }

        public abstract void Row(ImagePrediction row);

        public virtual void End()
        {
        }

        /// <summary>The file the rows go to, closed on dispose; <see langword="null"/> for the console.</summary>
        protected TextWriter? Owned { get; init; }

        public void Dispose() => Owned?.Dispose();

        protected static string P(float p) => p.ToString("0.######", CultureInfo.InvariantCulture);

        protected static string TopText(ClassPrediction prediction) => string.Join(", ", prediction.Top.Select(t => $"{t.Label} {t.Probability.ToString("P1", CultureInfo.InvariantCulture)}"));
    }

    /// <summary>A table on the console, one bordered row at a time with fixed column widths, so it stays aligned while it streams.</summary>
    private sealed class ConsoleTableRows(IAnsiConsole console, int topK, IReadOnlyList<string> classes) : RowWriter
    {
        private readonly int _label = Math.Clamp(classes.Max(c => c.Length), 7, 28);
        private readonly int _top = Math.Clamp(topK * (Math.Clamp(classes.Max(c => c.Length), 7, 28) + 8), 16, 90);

        public override void Begin() => console.Write(Table(headers: true));

        public override void Row(ImagePrediction row)
        {
            var table = Table(headers: false);
            table.AddRow(
                Markup.Escape(row.Path),
                row.Succeeded ? $"[bold]{Markup.Escape(row.Prediction.Label)}[/]" : "[yellow]skipped[/]",
                row.Succeeded ? row.Prediction.Probability.ToString("P1", CultureInfo.InvariantCulture) : "-",
                Markup.Escape(row.Succeeded ? TopText(row.Prediction) : $"{row.Skipped.Reason}: {row.Skipped.Detail}"));
            console.Write(table);
        }

        private Table Table(bool headers)
        {
            var image = Math.Max(24, console.Profile.Width - _label - 11 - _top - 12);
            var table = new Table().Border(TableBorder.Minimal)
                .AddColumn(new TableColumn("Image").Width(image))
                .AddColumn(new TableColumn("Label").Width(_label))
                .AddColumn(new TableColumn("Probability").RightAligned().Width(11))
                .AddColumn(new TableColumn($"Top {topK}").Width(_top));
            return headers ? table : table.HideHeaders();
        }
    }

    /// <summary>The table format written to a file: tab-free aligned text, one line per image, header first.</summary>
    private sealed class TextTableRows(TextWriter writer, int topK, IReadOnlyList<string> classes) : RowWriter
    {
        private readonly int _label = Math.Clamp(classes.Max(c => c.Length), 7, 28);

        public override void Begin()
        {
            writer.WriteLine($"{"Label".PadRight(_label)}  {"Probability",11}  {$"Top {topK}",-40}  Image");
            writer.Flush();
        }

        public override void Row(ImagePrediction row)
        {
            var label = row.Succeeded ? row.Prediction.Label : "skipped";
            var probability = row.Succeeded ? row.Prediction.Probability.ToString("P1", CultureInfo.InvariantCulture) : "-";
            var top = row.Succeeded ? TopText(row.Prediction) : $"{row.Skipped.Reason}: {row.Skipped.Detail}";
            writer.WriteLine($"{label.PadRight(_label)}  {probability,11}  {top,-40}  {row.Path}");
            writer.Flush();
        }

    }

    /// <summary>RFC 4180 CSV: <c>path,label,probability,top,skipped,detail</c>; <c>top</c> is <c>label=probability</c> pairs joined by <c>;</c>.</summary>
    private sealed class CsvRows(TextWriter writer) : RowWriter
    {
        public override void Begin()
        {
            writer.Write("path,label,probability,top,skipped,detail\n");
            writer.Flush();
        }

        public override void Row(ImagePrediction row)
        {
            var fields = row.Succeeded
                ? new[] { row.Path, row.Prediction.Label, P(row.Prediction.Probability), string.Join(";", row.Prediction.Top.Select(t => $"{t.Label}={P(t.Probability)}")), string.Empty, string.Empty }
                : [row.Path, string.Empty, string.Empty, string.Empty, row.Skipped.Reason.ToString(), row.Skipped.Detail];
            writer.Write(string.Join(",", fields.Select(Escape)));
            writer.Write('\n');
            writer.Flush();
        }

        private static string Escape(string field) =>
            field.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? $"\"{field.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : field;
    }

    /// <summary>
    /// A JSON array written element by element: <c>{"path", "label", "probability", "top": [{"label", "probability"}], "fromCache"}</c>
    /// or <c>{"path", "skipped": {"reason", "detail"}}</c>.
    /// </summary>
    private sealed class JsonRows(TextWriter writer) : RowWriter
    {
        private static readonly JsonWriterOptions Options = new() { Indented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        private bool _first = true;

        public override void Begin()
        {
            writer.Write("[\n");
            writer.Flush();
        }

        public override void Row(ImagePrediction row)
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            using (var json = new Utf8JsonWriter(buffer, Options))
            {
                json.WriteStartObject();
                json.WriteString("path", row.Path);
                if (row.Succeeded)
                {
                    json.WriteString("label", row.Prediction.Label);
                    json.WriteNumber("probability", row.Prediction.Probability);
                    json.WriteStartArray("top");
                    foreach (var t in row.Prediction.Top)
                    {
                        json.WriteStartObject();
                        json.WriteString("label", t.Label);
                        json.WriteNumber("probability", t.Probability);
                        json.WriteEndObject();
                    }

                    json.WriteEndArray();
                    json.WriteBoolean("fromCache", row.FromCache);
                }
                else
                {
                    json.WriteStartObject("skipped");
                    json.WriteString("reason", row.Skipped.Reason.ToString());
                    json.WriteString("detail", row.Skipped.Detail);
                    json.WriteEndObject();
                }

                json.WriteEndObject();
            }

            writer.Write(_first ? "  " : ",\n  ");
            writer.Write(Encoding.UTF8.GetString(buffer.WrittenSpan));
            writer.Flush();
            _first = false;
        }

        public override void End()
        {
            writer.Write(_first ? "]\n" : "\n]\n");
            writer.Flush();
        }
    }
}
