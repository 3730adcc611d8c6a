using System.ComponentModel;
using PokeClassifier.Experiments;
using PokeClassifier.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace PokeClassifier.Cli.Commands;

/// <summary><c>compare</c>: an <see cref="Experiment"/> over several configurations, with the three reports.</summary>
internal sealed class CompareCommand(CliContext cli) : AsyncCommand<CompareCommand.Settings>
{
    public sealed class Settings : DataSettings
    {
        [CommandOption("-c|--config <NAME=BACKBONE:HEAD>")]
        [Description("A configuration to compare, e.g. fast=resnet18:sdca (repeat the option). Overrides --backbones and --heads.")]
        public string[] Config { get; init; } = [];

        [CommandOption("--backbones <LIST>")]
        [Description("Backbones to compare (comma-separated): resnet18 (shipped, offline), densenet201, vgg16, resnet50, resnet18-torchvision, densenet201-keras, vgg16-keras (downloaded once, converted to ONNX), or .onnx paths.")]
        [DefaultValue("resnet18")]
        public string Backbones { get; init; } = "resnet18";

        [CommandOption("--heads <LIST>")]
        [Description("Heads to compare (comma-separated): lbfgs, sdca, lightgbm (ML.NET); gap, dense256, mlp (the study's TorchSharp heads); finetune. Every backbone is paired with every head.")]
        [DefaultValue("lbfgs,sdca")]
        public string Heads { get; init; } = "lbfgs,sdca";

        [CommandOption("--weights <FILE>")]
        [Description("A local weights (model) file for the backbone (use with a single backbone).")]
        public string? Weights { get; init; }

        [CommandOption("-k|--folds <K>")]
        [Description("Stratified k-fold with mean and spread instead of one split (0 = one split, from --split).")]
        [DefaultValue(0)]
        public int Folds { get; init; }

        [CommandOption("-r|--report <DIR>")]
        [Description("Folder for report.md, report.html and report.json.")]
        [DefaultValue("report")]
        public string Report { get; init; } = "report";

        [CommandOption("--order <ORDER>")]
        [Description("Heatmap class order: auto (Pokédex id when the manifest has an id column, else by confusion), id, confusion, list.")]
        [DefaultValue("auto")]
        public string Order { get; init; } = "auto";

        [CommandOption("--focus <N>")]
        [Description("Classes in the focused heatmap of the most-confused classes.")]
        [DefaultValue(20)]
        public int Focus { get; init; } = 20;

        public override ValidationResult Validate()
        {
            if (Folds > 0 && FixedSplit)
            {
                return ValidationResult.Error("--folds draws its own folds; it cannot be combined with --split-file or --train/--test");
            }

            if (Folds is 1 or < 0)
            {
                return ValidationResult.Error("--folds must be 0 (one split) or at least 2");
            }

            if (Order is not ("auto" or "id" or "confusion" or "list"))
            {
                return ValidationResult.Error($"--order '{Order}' is not one of auto, id, confusion, list");
            }

            return Focus is < 2 or > 100 ? ValidationResult.Error("--focus must be between 2 and 100") : base.Validate();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var configurations = Configurations(settings);
        var split = settings.SplitOptions();
        var console = cli.Console;
        var (dataset, result) = await ProgressView.RunAsync(console, async view =>
        {
            var (data, fixedSplit) = await Inputs.LoadWithSplitAsync(settings, view.For<int>((v, n) => v.Report("Checking images", n, 0)), cancellationToken).ConfigureAwait(false);
            var experiment = Experiment.For(data).WithFeaturizer(settings.FeaturizerOptions(cli.Warn)).WithWeightStore(settings.WeightStoreOptions());
            experiment = settings.Folds > 0 ? experiment.WithKFold(settings.Folds, settings.Seed) : experiment.WithSplit(split);
            if (fixedSplit is not null)
            {
                // The seed of --seed still drives training: the options stay, the fixed split replaces the drawn one.
                experiment = experiment.WithSplit(fixedSplit);
            }
            experiment = configurations.Aggregate(experiment, (e, c) => e.Add(c));
            var outcome = await experiment.RunAsync(
                view.For<ExperimentProgress>((v, p) => v.Report(p.Stage switch
                {
                    ExperimentStage.DownloadingWeights => $"Downloading {p.Subject} weights (KiB)",
                    ExperimentStage.Featurizing => $"Featurizing with {p.Subject}",
                    ExperimentStage.Training => "Training and testing heads",
                    _ => "Measuring size and speed",
                }, p.Completed, p.Total)),
                cancellationToken).ConfigureAwait(false);
            view.Complete();
            return (data, outcome);
        }).ConfigureAwait(false);

        cli.FlushWarnings();
        console.MarkupLine($"Dataset: {Markup.Escape(dataset.ToString())}");
        Output.Comparison(console, result);
        if (result.Best is { } best && result.Configurations.Count > 1)
        {
            console.MarkupLine($"Best: [bold green]{Markup.Escape(best.Name)}[/] (macro F1 {Output.N(best.ComparedMacroF1)}{(result.FoldCount > 1 ? ", mean over folds" : string.Empty)})");
        }

        Reports.Write(console, result, settings.Report, settings.DataName, settings.Order, settings.Focus);
        Output.Skipped(console, dataset.Skipped.Concat(result.Skipped).ToArray(), settings.Report);
        return ExitCodes.Ok;
    }

    private static List<ExperimentConfiguration> Configurations(Settings settings)
    {
        var list = new List<ExperimentConfiguration>();
        var device = new TrainingOverrides { Device = settings.ParsedDevice() };
        if (settings.Config.Length > 0)
        {
            foreach (var spec in settings.Config)
            {
                var eq = spec.IndexOf('=', StringComparison.Ordinal);
                var colon = spec.LastIndexOf(':');
                if (eq <= 0 || colon < eq + 2 || colon == spec.Length - 1)
                {
                    throw CliException.Usage($"--config '{spec}' is not NAME=BACKBONE:HEAD, e.g. fast=resnet18:sdca");
                }

                var backbone = Inputs.Backbone(spec[(eq + 1)..colon], settings.Weights);
                list.Add(new ExperimentConfiguration { Name = spec[..eq].Trim(), Backbone = backbone, Head = Inputs.Head(spec[(colon + 1)..]).WithOverrides(device), WeightsPath = settings.Weights });
            }
        }
        else
        {
            var heads = settings.Heads.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            foreach (var b in settings.Backbones.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var backbone = Inputs.Backbone(b, settings.Weights);
                foreach (var h in heads)
                {
                    list.Add(new ExperimentConfiguration { Name = $"{b.ToLowerInvariant()} + {h.ToLowerInvariant()}", Backbone = backbone, Head = Inputs.Head(h).WithOverrides(device), WeightsPath = settings.Weights });
                }
            }
        }

        if (list.Count == 0)
        {
            throw CliException.Usage("no configuration to compare: pass --backbones and --heads, or --config NAME=BACKBONE:HEAD.");
        }

        var duplicate = list.GroupBy(c => c.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        return duplicate is null ? list : throw CliException.Usage($"the configuration name '{duplicate.Key}' is given twice; names must be unique.");
    }
}
