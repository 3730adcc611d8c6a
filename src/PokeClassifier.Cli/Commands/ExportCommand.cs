using System.ComponentModel;
using Microsoft.ML;
using PokeClassifier.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace PokeClassifier.Cli.Commands;

/// <summary><c>export</c>: check and copy the plain ML.NET model; ONNX export comes later.</summary>
internal sealed class ExportCommand(CliContext cli) : Command<ExportCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
        [CommandArgument(0, "<model>")]
        [Description("A model saved by 'pokeclassifier train'.")]
        public string Model { get; init; } = string.Empty;

        [CommandOption("-f|--format <FORMAT>")]
        [Description("mlnet (a plain ML.NET model: MLContext.Model.Load, input column Image) or onnx (not available yet).")]
        [DefaultValue("mlnet")]
        public string Format { get; init; } = "mlnet";

        [CommandOption("-o|--out <FILE>")]
        [Description("Where to write the exported model. Without it the model is only checked.")]
        public string? Out { get; init; }

        public override ValidationResult Validate() => Format.ToLowerInvariant() is "mlnet" or "onnx"
            ? base.Validate()
            : ValidationResult.Error($"--format '{Format}' is not one of mlnet, onnx");
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.Format.Equals("onnx", StringComparison.OrdinalIgnoreCase))
        {
            CliApp.ErrorLine(cli.Errors, "error", "ONNX export is not available in this version yet. Use --format mlnet for a plain ML.NET model (load it with MLContext.Model.Load).");
            return ExitCodes.NotAvailable;
        }

        // The library's loader checks the manifest and the backbone; ML.NET's loader checks that the file stands alone.
        using (var classifier = TrainedClassifier.Load(settings.Model))
        {
            cli.Console.MarkupLine($"Model: {Markup.Escape(classifier.ToString())}");
        }

        try
        {
            _ = new MLContext(seed: 0).Model.Load(settings.Model, out _);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or InvalidDataException)
        {
            throw new ModelLoadException($"'{settings.Model}' does not load as a plain ML.NET model: {e.Message}", e);
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (settings.Out is null)
        {
            cli.Console.MarkupLine("[green]Valid[/] plain ML.NET model (input column Image of type MLImage; outputs PredictedLabel and Score). Pass --out FILE to copy it.");
            return ExitCodes.Ok;
        }

        var target = Path.GetFullPath(settings.Out);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var temp = target + ".tmp";
        File.Copy(settings.Model, temp, overwrite: true);
        File.Move(temp, target, overwrite: true);
        cli.Console.MarkupLine($"[green]Exported[/] the ML.NET model to {Markup.Escape(target)} (load it with MLContext.Model.Load; input column Image of type MLImage; outputs PredictedLabel and Score).");
        return ExitCodes.Ok;
    }
}
