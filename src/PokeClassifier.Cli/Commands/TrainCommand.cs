using System.ComponentModel;
using PokeClassifier.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace PokeClassifier.Cli.Commands;

/// <summary><c>train</c>: load, split, featurize, fit the head, evaluate on the test split, save.</summary>
internal sealed class TrainCommand(CliContext cli) : AsyncCommand<TrainCommand.Settings>
{
    public sealed class Settings : TrainingSettings
    {
        [CommandOption("-o|--out <FILE>")]
        [Description("Where to save the model: one zip with the backbone inside. With an ML.NET head (lbfgs, sdca, lightgbm) it is also a plain ML.NET model (MLContext.Model.Load); with a TorchSharp head (gap, dense256, mlp, finetune) it needs this tool or the PokeClassifier library, or 'export' to ONNX.")]
        [DefaultValue("model.zip")]
        public string Out { get; init; } = "model.zip";

        [CommandOption("-b|--backbone <NAME>")]
        [Description("The backbone: resnet18 (shipped, offline); densenet201, vgg16, resnet50, resnet18-torchvision (torchvision's weights) or densenet201-keras, vgg16-keras (Keras', the study's), downloaded once, verified and converted to ONNX; or a path to an .onnx file.")]
        [DefaultValue("resnet18")]
        public string Backbone { get; init; } = "resnet18";

        [CommandOption("--weights <FILE>")]
        [Description("A local weights (model) file for the backbone, checked against the backbone's checksums or its input and output.")]
        public string? Weights { get; init; }

        [CommandOption("--head <NAME>")]
        [Description("The head: lbfgs (L2 chosen on validation), sdca, lightgbm (ML.NET); gap, dense256, mlp (the study's TorchSharp heads); finetune-cached (the last two blocks on cached activations with mirror views at 256 px: the recommended recipe on a CPU, docs/recipes.md); finetune (the whole backbone, augmented); finetune-last2 (the last two blocks, no augmentation).")]
        [DefaultValue("lbfgs")]
        public string Head { get; init; } = "lbfgs";

        [CommandOption("--report <DIR>")]
        [Description("Also write report.md, report.html and report.json of the test-split evaluation into this folder.")]
        public string? Report { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var backbone = Inputs.Backbone(settings.Backbone, settings.Weights);
        var head = settings.Apply(Inputs.Head(settings.Head));
        var budget = settings.Budget();
        var split = settings.SplitOptions();
        var console = cli.Console;
        var run = await ProgressView.RunAsync(console, async view =>
        {
            var (dataset, fixedSplit) = await Inputs.LoadWithSplitAsync(settings, view.For<int>((v, n) => v.Report("Checking images", n, 0)), cancellationToken).ConfigureAwait(false);
            var builder = ImageClassification.From(dataset).WithSplit(split).WithBackbone(backbone, settings.Weights, settings.WeightStoreOptions()).WithHead(head).WithFeaturizer(settings.TrainingFeaturizerOptions(cli.Warn));
            if (fixedSplit is not null)
            {
                builder = builder.WithSplit(fixedSplit);
            }

            if (budget is not null)
            {
                builder = builder.WithTimeBudget(budget);
            }

            var progress = view.For<ClassificationProgress>((v, p) => v.Report(Stage(p.Stage), p.Completed, p.Total));
            if (fixedSplit is null && split.TestFraction == 0)
            {
                var classifier = await builder.TrainAsync(dataset.Items, progress, cancellationToken).ConfigureAwait(false);
                view.Complete();
                return (Dataset: dataset, Run: (ClassificationRun?)null, Classifier: classifier);
            }

            var result = await builder.RunAsync(progress, cancellationToken).ConfigureAwait(false);
            view.Complete();
            return (Dataset: dataset, Run: result, Classifier: result.Classifier);
        }).ConfigureAwait(false);

        cli.FlushWarnings();
        using var classifier = run.Classifier;
        console.MarkupLine($"Dataset: {Markup.Escape(run.Dataset.ToString())}");
        if (run.Run is { } r)
        {
            if (r.Plan is { } plan)
            {
                console.MarkupLine($"Budget {Markup.Escape(plan.Budget.ToString())}: {Markup.Escape(plan.Recipe)} ({Markup.Escape(plan.Reason)}); the run took {r.Elapsed.TotalMinutes:0.0} min");
            }

            console.MarkupLine($"Split: {Markup.Escape(r.Split.ToString())}; {Markup.Escape(r.Timings.ToString())}");
            if (r.Split.TrainOnlyClasses.Count > 0)
            {
                var names = r.Split.TrainOnlyClasses;
                console.MarkupLine($"[yellow]{names.Count} class(es) too small to be tested[/] (fewer images or groups than the split needs) are in training only and absent from the test metrics: {Markup.Escape(string.Join(", ", names.Take(20)))}{(names.Count > 20 ? ", ..." : string.Empty)}");
            }

            Output.Metrics(console, r.Metrics, r.Errors);
        }
        else
        {
            console.MarkupLine("Trained on every image (test fraction 0): no evaluation.");
        }

        classifier.Save(settings.Out);
        console.MarkupLine($"[green]Saved[/] {Markup.Escape(classifier.ToString())} to {Markup.Escape(Path.GetFullPath(settings.Out))}");
        if (settings.Report is not null && run.Run is { } evaluated)
        {
            var result = ExperimentResult.FromRun(evaluated, new FileInfo(settings.Out).Length);
            Reports.Write(console, result, settings.Report, settings.DataName);
        }

        Output.Skipped(console, run.Run?.Skipped ?? run.Dataset.Skipped, settings.Report);

        return ExitCodes.Ok;
    }

    private static string Stage(ClassificationStage stage) => stage switch
    {
        ClassificationStage.LoadingDataset => "Checking images",
        ClassificationStage.DownloadingWeights => "Downloading weights (KiB)",
        ClassificationStage.Featurizing => "Featurizing training images",
        ClassificationStage.Training => "Training the head",
        _ => "Evaluating test images",
    };
}
