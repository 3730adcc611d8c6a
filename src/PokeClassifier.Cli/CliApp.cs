using PokeClassifier.Cli.Commands;
using Spectre.Console;
using Spectre.Console.Cli;

namespace PokeClassifier.Cli;

/// <summary>The <c>pokeclassifier</c> command line, callable in-process (the tests use this entry point; <c>Main</c> is a thin wrapper).</summary>
public static class CliApp
{
    /// <summary>Runs the tool with <paramref name="args"/>, writing output and errors to <paramref name="console"/>.</summary>
    /// <returns>The exit code (see <see cref="ExitCodes"/>).</returns>
    public static Task<int> RunAsync(string[] args, IAnsiConsole console, CancellationToken cancellationToken) =>
        RunAsync(args, console, console, cancellationToken);

    /// <summary>Runs the tool with <paramref name="args"/>: results to <paramref name="console"/>, error lines to <paramref name="errorConsole"/>.</summary>
    /// <returns>The exit code (see <see cref="ExitCodes"/>).</returns>
    public static async Task<int> RunAsync(string[] args, IAnsiConsole console, IAnsiConsole errorConsole, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(errorConsole);
        var verbose = args.Any(a => a is "-v" or "--verbose");
        var context = new CliContext(console, errorConsole);
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName("pokeclassifier");
            config.ConfigureConsole(console);
            config.PropagateExceptions();
            config.UseStrictParsing();
            config.Settings.Registrar.RegisterInstance(context);
            config.AddCommand<PrepareCommand>("prepare")
                .WithDescription("Download and build the default dataset (the 151 first-generation Pokémon sprites; needs npm).")
                .WithExample("prepare")
                .WithExample("prepare", "--out", "data/pokemon", "--last-id", "30");
            config.AddCommand<TrainCommand>("train")
                .WithDescription("Train a classifier on a folder (one sub-folder per class) or a manifest .csv, evaluate it on a held-out split and save it.")
                .WithExample("train", "data/pokemon/manifest.csv", "--out", "model.zip")
                .WithExample("train", "images", "--head", "sdca", "--split", "0.8,0,0.2", "--seed", "7", "--report", "report");
            config.AddCommand<LrFindCommand>("lr-find")
                .WithDescription("Find a learning rate for a TorchSharp head or fine-tuning: the range test (fastai's lr_find); prints the suggested rate and writes the loss-against-rate curve as SVG.")
                .WithExample("lr-find", "images", "--head", "mlp", "--out", "lr-find.svg")
                .WithExample("lr-find", "images", "--head", "finetune", "--split-file", "split.csv", "--steps", "60");
            config.AddCommand<EvaluateCommand>("evaluate")
                .WithDescription("Evaluate a saved model on labelled images; print the metrics and optionally write the reports.")
                .WithExample("evaluate", "model.zip", "holdout", "--report", "report");
            config.AddCommand<FeaturizeCommand>("featurize")
                .WithDescription("Fill the feature cache for a dataset, or one shard of it (--shard i/n, one process or machine per shard, one shared --cache folder), so that 'train' and 'compare' run no inference.")
                .WithExample("featurize", "data/pokemon/manifest.csv", "--cache", "/mnt/shared/features", "--shard", "0/4");
            config.AddCommand<PredictCommand>("predict")
                .WithDescription("Classify image files or folders with a saved model and print the top-k labels.")
                .WithExample("predict", "model.zip", "pikachu.png", "more-images", "--top", "3");
            config.AddCommand<CompareCommand>("compare")
                .WithDescription("Compare configurations (backbone x head) on one split or k-fold; write Markdown, HTML and JSON reports.")
                .WithExample("compare", "data/pokemon/manifest.csv", "--backbones", "resnet18", "--heads", "lbfgs,sdca", "--report", "report")
                .WithExample("compare", "images", "--config", "fast=resnet18:sdca", "--config", "default=resnet18:lbfgs", "--folds", "5", "--report", "report");
            config.AddCommand<ExportCommand>("export")
                .WithDescription("Export a saved model: 'mlnet' checks and copies the plain ML.NET model; 'onnx' writes the whole classifier as one ONNX model.")
                .WithExample("export", "model.zip", "--format", "mlnet", "--out", "mlnet-model.zip");
        });

        try
        {
            var code = await app.RunAsync(args, cancellationToken).ConfigureAwait(false);
            context.FlushWarnings();
            return code;
        }
        catch (Exception e) when (Unwrap(e) is OperationCanceledException)
        {
            context.FlushWarnings();
            ErrorLine(errorConsole, "cancelled", "stopped on request. The feature cache is consistent: entries written so far are complete and the next run reuses them.");
            return ExitCodes.Cancelled;
        }
        catch (Exception e)
        {
            context.FlushWarnings();
            var inner = Unwrap(e);
            var (code, message) = Classify(inner);
            ErrorLine(errorConsole, "error", OneLine(message));
            if (verbose)
            {
                errorConsole.WriteLine(inner.ToString());
            }

            return code;
        }
    }

    /// <summary>Writes <c>prefix: message</c> as one physical line (no wrapping at the console width), red when the console has colours.</summary>
    internal static void ErrorLine(IAnsiConsole console, string prefix, string message)
    {
        var colour = console.Profile.Capabilities.Ansi ? (prefix == "error" ? "\u001b[31m" : "\u001b[33m") : null;
        var writer = console.Profile.Out.Writer;
        writer.WriteLine(colour is null ? $"{prefix}: {message}" : $"{colour}{prefix}:\u001b[0m {message}");
        writer.Flush();
    }

    private static Exception Unwrap(Exception e)
    {
        while (true)
        {
            if (e is AggregateException { InnerExceptions.Count: 1 } a)
            {
                e = a.InnerExceptions[0];
            }
            else if (e is System.Reflection.TargetInvocationException { InnerException: { } inner })
            {
                e = inner;
            }
            else
            {
                break;
            }
        }

        return e;
    }

    private static (int Code, string Message) Classify(Exception e) => e switch
    {
        CliException c => (c.ExitCode, c.Message),
        CommandParseException or CommandRuntimeException => (ExitCodes.Usage, $"{e.Message.TrimEnd('.')}. Run 'pokeclassifier --help' or 'pokeclassifier <command> --help' for usage."),
        WeightsUnavailableException => (ExitCodes.Model, Shorten(e.Message)),
        ModelLoadException => (ExitCodes.Model, $"{e.Message.TrimEnd('.')}. Check the model or weights file, or train a new model with 'pokeclassifier train'."),
        DatasetException or InvalidImageException => (ExitCodes.Data, e.Message),
        DirectoryNotFoundException or FileNotFoundException => (ExitCodes.Data, $"{e.Message.TrimEnd('.')}. Check the path."),
        DeviceUnavailableException => (ExitCodes.NotAvailable, e.Message),
        PokeClassifierException => (ExitCodes.Failure, e.Message),
        ArgumentException => (ExitCodes.Usage, e.Message),
        NotSupportedException => (ExitCodes.NotAvailable, e.Message),
        IOException or UnauthorizedAccessException => (ExitCodes.Failure, $"{e.Message.TrimEnd('.')}. Check the path and its permissions."),
        _ => (ExitCodes.Failure, $"unexpected {e.GetType().Name}: {e.Message} (run again with --verbose for details)"),
    };

    /// <summary>Keeps what is missing and where to put it; the export script itself is in docs/backbones.md and behind --verbose.</summary>
    private static string Shorten(string message)
    {
        var cut = message.IndexOf("How to produce it", StringComparison.Ordinal);
        return cut < 0 ? message : message[..cut].TrimEnd() + " How to produce it: see docs/backbones.md, or run again with --verbose for the export commands.";
    }

    private static string OneLine(string message)
    {
        var line = string.Join(" ", message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return line.Length > 600 ? line[..597] + "..." : line;
    }
}

/// <summary>What every command needs from the host: where to write, and the warnings raised while a progress display runs.</summary>
internal sealed class CliContext(IAnsiConsole console, IAnsiConsole errors)
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _warnings = new();
    private readonly HashSet<string> _printed = new(StringComparer.Ordinal);

    public IAnsiConsole Console { get; } = console;

    public IAnsiConsole Errors { get; } = errors;

    /// <summary>Queues a warning (thread-safe; library callbacks call it from worker threads); printed once by <see cref="FlushWarnings"/>.</summary>
    public void Warn(string message) => _warnings.Enqueue(message);

    /// <summary>Prints each queued warning once, as one <c>warning:</c> line on the error console.</summary>
    public void FlushWarnings()
    {
        while (_warnings.TryDequeue(out var message))
        {
            if (_printed.Add(message))
            {
                CliApp.ErrorLine(Errors, "warning", message);
            }
        }
    }
}
