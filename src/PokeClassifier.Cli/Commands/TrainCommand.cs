using System.ComponentModel;
using PokeClassifier.Data;
using PokeClassifier.Experiments;
using PokeClassifier.Training.Budget;
using PokeClassifier.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace PokeClassifier.Cli.Commands;

/// <summary><c>train</c>: load, split, featurize, fit the head, evaluate on the test split, save.</summary>
internal sealed class TrainCommand(CliContext cli) : AsyncCommand<TrainCommand.Settings>
{
    /// <summary>The checkpoint's file name inside the <c>--checkpoint</c> folder.</summary>
    public const string CheckpointFileName = "training.ckpt";

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

        [CommandOption("--checkpoint <DIR>")]
        [Description("TorchSharp heads and fine-tuning: write a checkpoint (weights, optimizer state, history) into this folder after every epoch, replacing the last one atomically.")]
        public string? Checkpoint { get; init; }

        [CommandOption("--resume")]
        [Description("Continue an interrupted training from the checkpoint in --checkpoint DIR: same data, options and seed give the weights of an uninterrupted run.")]
        public bool Resume { get; init; }

        /// <summary>The checkpoint file inside <see cref="Checkpoint"/>.</summary>
        public string? CheckpointFile => Checkpoint is null ? null : Path.GetFullPath(Path.Combine(Checkpoint, CheckpointFileName));

        public override ValidationResult Validate()
        {
            if (Resume && Checkpoint is null)
            {
                return ValidationResult.Error("--resume continues from a checkpoint: pass the folder with --checkpoint DIR");
            }

            if (Checkpoint is not null && (TimeBudget ?? Preset) is not null)
            {
                return ValidationResult.Error("--checkpoint applies to the head given with --head; a --time-budget/--preset chooses its own recipe");
            }

            return base.Validate();
        }

        [CommandOption("--report <DIR>")]
        [Description("Also write report.md, report.html and report.json of the test-split evaluation into this folder.")]
        public string? Report { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var backbone = Inputs.Backbone(settings.Backbone, settings.Weights);
        var head = settings.Apply(Inputs.Head(settings.Head), settings.CheckpointFile is { } file ? new TrainingOverrides { CheckpointPath = file, Resume = settings.Resume ? true : null } : null);
        if (settings.Resume && !File.Exists(settings.CheckpointFile))
        {
            throw CliException.DataError($"--resume: there is no checkpoint in '{settings.Checkpoint}' ({CheckpointFileName}). Train with --checkpoint {settings.Checkpoint} first, or leave out --resume");
        }

        var budget = settings.Budget();
        var split = settings.SplitOptions();
        var console = cli.Console;
        (ImageDataset Dataset, ClassificationRun? Run, TrainedClassifier Classifier) run;
        try
        {
            run = await TrainAsync(settings, backbone, head, budget, split, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException e) when (settings.CheckpointFile is not null)
        {
            // A checkpoint of another run (other data, options or seed), or a file that is not a checkpoint.
            throw new CliException(ExitCodes.Model, $"{e.Message.TrimEnd('.')}. Resume with the options of the run that wrote it, or start afresh without --resume.");
        }

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
        if (settings.CheckpointFile is { } checkpoint)
        {
            console.MarkupLine($"Checkpoint of the last epoch: {Markup.Escape(checkpoint)}");
        }
        if (settings.Report is not null && run.Run is { } evaluated)
        {
            var result = ExperimentResult.FromRun(evaluated, new FileInfo(settings.Out).Length);
            Reports.Write(console, result, settings.Report, settings.DataName);
        }

        Output.Skipped(console, run.Run?.Skipped ?? run.Dataset.Skipped, settings.Report);

        return ExitCodes.Ok;
    }

    private async Task<(ImageDataset Dataset, ClassificationRun? Run, TrainedClassifier Classifier)> TrainAsync(
        Settings settings, PokeClassifier.Backbones.BackboneSpec backbone, HeadConfiguration head, TrainingBudget? budget, SplitOptions split, CancellationToken cancellationToken)
    {
        return await ProgressView.RunAsync(cli.Console, async view =>
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
