using System.ComponentModel;
using Microsoft.ML;
using PokeClassifier.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace PokeClassifier.Cli.Commands;

/// <summary><c>export</c>: check and copy the plain ML.NET model, or write the whole classifier as one ONNX model.</summary>
internal sealed class ExportCommand(CliContext cli) : Command<ExportCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
        [CommandArgument(0, "<model>")]
        [Description("A model saved by 'pokeclassifier train'.")]
        public string Model { get; init; } = string.Empty;

        [CommandOption("-f|--format <FORMAT>")]
        [Description("mlnet (a plain ML.NET model: MLContext.Model.Load, input column Image) or onnx (one ONNX model: input pixels [[batch,3,H,W]] RGB 0..255, outputs probabilities and label).")]
        [DefaultValue("mlnet")]
        public string Format { get; init; } = "mlnet";

        [CommandOption("-o|--out <FILE>")]
        [Description("Where to write the exported model. Without it an mlnet export is only checked, and an onnx export goes next to the model (model.onnx).")]
        public string? Out { get; init; }

        public override ValidationResult Validate() => Format.ToLowerInvariant() is "mlnet" or "onnx"
            ? base.Validate()
            : ValidationResult.Error($"--format '{Format}' is not one of mlnet, onnx");
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.Format.Equals("onnx", StringComparison.OrdinalIgnoreCase))
        {
            return ExportOnnx(settings);
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
        catch (Exception e) when (e is not (OperationCanceledException or OutOfMemoryException or IOException or UnauthorizedAccessException))
        {
            // ML.NET builds each transform by reflection: a damaged part (label names, a column) comes wrapped in layers of
            // TargetInvocationException and "Error during class instantiation"; the innermost one says what is wrong.
            throw new ModelLoadException($"'{settings.Model}' does not load as a plain ML.NET model: {e.GetBaseException().Message}", e);
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

    private int ExportOnnx(Settings settings)
    {
        using var classifier = TrainedClassifier.Load(settings.Model);
        var target = Path.GetFullPath(settings.Out ?? Path.ChangeExtension(settings.Model, ".onnx"));
        try
        {
            classifier.ExportOnnx(target);
        }
        catch (NotSupportedException e)
        {
            CliApp.ErrorLine(cli.Errors, "error", $"this model cannot be exported to ONNX: {e.Message}");
            return ExitCodes.NotAvailable;
        }

        cli.Console.MarkupLine($"[green]Exported[/] {Markup.Escape(classifier.ToString())} to {Markup.Escape(target)}");
        var (w, h) = (classifier.Backbone.InputWidth, classifier.Backbone.InputHeight);
        cli.Console.MarkupLine(Markup.Escape($"Input: pixels [batch,3,{h},{w}] float32, RGB planes, values 0..255, the image resized to {w}x{h}; normalisation is inside the model."));
        cli.Console.MarkupLine(Markup.Escape("Outputs: probabilities [batch, classes] (float), label [batch] (string); the class labels are in the metadata (pokeclassifier.classes)."));
        return ExitCodes.Ok;
    }
}
