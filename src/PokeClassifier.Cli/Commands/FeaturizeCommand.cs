using System.ComponentModel;
using PokeClassifier.Backbones;
using PokeClassifier.Features;
using Spectre.Console;
using Spectre.Console.Cli;

namespace PokeClassifier.Cli.Commands;

/// <summary><c>featurize</c>: fills the feature cache for a dataset, or for one shard of it, so that a later <c>train</c> or <c>compare</c> runs no inference.</summary>
internal sealed class FeaturizeCommand(CliContext cli) : AsyncCommand<FeaturizeCommand.Settings>
{
    public sealed class Settings : FeaturizingSettings
    {
        [CommandArgument(0, "<data>")]
        [Description("A folder with one sub-folder per class, or a manifest .csv (columns path and label, optionally group).")]
        public string Data { get; init; } = string.Empty;

        [CommandOption("-b|--backbone <NAME>")]
        [Description("The backbone: resnet18 (offline), densenet201, vgg16 (ONNX exports, see docs/backbones.md), or a path to an .onnx file.")]
        [DefaultValue("resnet18")]
        public string Backbone { get; init; } = "resnet18";

        [CommandOption("--weights <FILE>")]
        [Description("A local weights (model) file for the backbone.")]
        public string? Weights { get; init; }

        [CommandOption("--classes <LIST>")]
        [Description("Use only these classes (comma-separated labels).")]
        public string? Classes { get; init; }

        [CommandOption("--shard <I/N>")]
        [Description("Featurize only shard I of N (0-based; every N-th image by sorted path), e.g. --shard $JOB_COMPLETION_INDEX/8. Shards share one --cache folder.")]
        public string? Shard { get; init; }

        public override ValidationResult Validate()
        {
            if (NoCache)
            {
                return ValidationResult.Error("featurize writes the feature cache: --no-cache makes it do nothing");
            }

            return base.Validate();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var shard = Inputs.Shard(settings.Shard);
        var backbone = Inputs.Backbone(settings.Backbone, settings.Weights);
        var console = cli.Console;
        var (dataset, items, features) = await ProgressView.RunAsync(console, async view =>
        {
            var dataset = await Inputs.LoadAsync(settings.Data, settings.Classes?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries), view.For<int>((v, n) => v.Report("Checking images", n, 0)), cancellationToken).ConfigureAwait(false);
            var resolved = await new WeightStore().ResolveAsync(backbone, settings.Weights, view.For<DownloadProgress>((v, p) => v.Report("Downloading weights (KiB)", p.BytesReceived / 1024.0, (p.TotalBytes ?? 0) / 1024.0)), cancellationToken).ConfigureAwait(false);
            var items = shard.Select(dataset.Items);
            using var featurizer = new ImageFeaturizer(resolved, settings.FeaturizerOptions());
            var features = await featurizer.FeaturizeAsync(items, view.For<FeaturizationProgress>((v, p) => v.Report($"Featurizing shard {shard}", p.Completed, p.Total)), cancellationToken).ConfigureAwait(false);
            view.Complete();
            return (dataset, items, features);
        }).ConfigureAwait(false);

        var cache = settings.Cache ?? FeatureCache.DefaultDirectory;
        console.MarkupLine($"Dataset: {Markup.Escape(dataset.ToString())}");
        console.MarkupLine($"[green]Featurized[/] shard {shard}: {items.Count} of {dataset.Items.Count} image(s), {features.Computed} computed, {features.CacheHits} from the cache, {features.Failed.Count} skipped, in {features.Elapsed.TotalSeconds:F1} s; cache: {Markup.Escape(Path.GetFullPath(cache))}");
        foreach (var failed in features.Failed.Take(10))
        {
            console.MarkupLine($"[yellow]skipped[/] {Markup.Escape(failed.ToString())}");
        }

        if (items.Count > 0 && features.Failed.Count == items.Count)
        {
            throw CliException.DataError($"None of the shard's {items.Count} image(s) could be featurized ({features.Failed[0]}).");
        }

        return ExitCodes.Ok;
    }
}
