using System.ComponentModel;
using System.Globalization;
using PokeClassifier.Training.LearningRate;
using PokeClassifier.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace PokeClassifier.Cli.Commands;

/// <summary><c>lr-find</c>: the learning-rate range test of a TorchSharp head or fine-tuning; prints the suggested rate, writes the curve as SVG.</summary>
internal sealed class LrFindCommand(CliContext cli) : AsyncCommand<LrFindCommand.Settings>
{
    public sealed class Settings : TrainingSettings
    {
        [CommandOption("-o|--out <FILE>")]
        [Description("Where to write the curve: an SVG of the smoothed loss against the learning rate (log scale) with the suggestions marked.")]
        [DefaultValue("lr-find.svg")]
        public string Out { get; init; } = "lr-find.svg";

        [CommandOption("-b|--backbone <NAME>")]
        [Description("The backbone, as for 'train' (resnet18 by default).")]
        [DefaultValue("resnet18")]
        public string Backbone { get; init; } = "resnet18";

        [CommandOption("--weights <FILE>")]
        [Description("A local weights (model) file for the backbone.")]
        public string? Weights { get; init; }

        [CommandOption("--head <NAME>")]
        [Description("A head trained in epochs: gap, dense256, mlp (TorchSharp heads on frozen features), finetune or finetune-last2 (fine-tuning). ML.NET heads have no learning rate.")]
        [DefaultValue("gap")]
        public string Head { get; init; } = "gap";

        [CommandOption("--start <RATE>")]
        [Description("The first rate tested.")]
        [DefaultValue(1e-7)]
        public double Start { get; init; } = 1e-7;

        [CommandOption("--end <RATE>")]
        [Description("The last rate tested.")]
        [DefaultValue(10.0)]
        public double End { get; init; } = 10;

        [CommandOption("--steps <N>")]
        [Description("Batches, one rate each, growing exponentially from --start to --end.")]
        [DefaultValue(100)]
        public int Steps { get; init; } = 100;
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.Budget() is not null)
        {
            throw CliException.Usage("--time-budget/--preset choose the recipe; lr-find tests the head given with --head");
        }

        var options = new LearningRateFinderOptions { StartLearningRate = settings.Start, EndLearningRate = settings.End, Steps = settings.Steps };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw CliException.Usage(e.Message.Replace(nameof(LearningRateFinderOptions.StartLearningRate), "--start", StringComparison.Ordinal)
                .Replace(nameof(LearningRateFinderOptions.EndLearningRate), "--end", StringComparison.Ordinal).Replace(nameof(LearningRateFinderOptions.Steps), "--steps", StringComparison.Ordinal));
        }

        var backbone = Inputs.Backbone(settings.Backbone, settings.Weights);
        var head = settings.Apply(Inputs.Head(settings.Head));
        if (head is MLNetHeadConfiguration)
        {
            throw CliException.Usage($"--head {settings.Head} is an ML.NET head, fitted in one call: it has no learning rate. Use gap, dense256, mlp, finetune or finetune-last2");
        }

        var split = settings.SplitOptions();
        var console = cli.Console;
        var result = await ProgressView.RunAsync(console, async view =>
        {
            var (dataset, fixedSplit) = await Inputs.LoadWithSplitAsync(settings, view.For<int>((v, n) => v.Report("Checking images", n, 0)), cancellationToken).ConfigureAwait(false);
            var builder = ImageClassification.From(dataset).WithSplit(split).WithBackbone(backbone, settings.Weights, settings.WeightStoreOptions()).WithHead(head).WithFeaturizer(settings.TrainingFeaturizerOptions(cli.Warn));
            if (fixedSplit is not null)
            {
                builder = builder.WithSplit(fixedSplit);
            }

            var progress = view.For<ClassificationProgress>((v, p) => v.Report(p.Stage switch
            {
                ClassificationStage.LoadingDataset => "Checking images",
                ClassificationStage.DownloadingWeights => "Downloading weights (KiB)",
                ClassificationStage.Featurizing => "Featurizing training images",
                _ => "Testing learning rates",
            }, p.Completed, p.Total));
            var found = await builder.FindLearningRateAsync(options, progress, cancellationToken).ConfigureAwait(false);
            view.Complete();
            return found;
        }).ConfigureAwait(false);

        cli.FlushWarnings();
        var full = Path.GetFullPath(settings.Out);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = full + ".tmp";
        await File.WriteAllTextAsync(temp, result.ToSvg(), cancellationToken).ConfigureAwait(false);
        File.Move(temp, full, overwrite: true);
        console.WriteLine(result.ToTable());
        console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"[green]Suggested learning rate:[/] {result.SuggestedLearningRate:0.00e+00} (train with --lr {result.SuggestedLearningRate:0.00e+00}); wrote the curve to {Markup.Escape(full)}"));
        return ExitCodes.Ok;
    }
}
