using System.ComponentModel;
using PokeClassifier.Data.DefaultDataset;
using PokeClassifier.Data;
using Spectre.Console;
using Spectre.Console.Cli;

namespace PokeClassifier.Cli.Commands;

/// <summary><c>prepare</c>: builds the default dataset with <see cref="PokemonSpriteDataset.PrepareAsync"/>.</summary>
internal sealed class PrepareCommand(CliContext cli) : AsyncCommand<PrepareCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
        [CommandOption("-o|--out <DIR>")]
        [Description("Where the dataset goes. Default: ~/.cache/pokeclassifier/datasets/pokeapi-gen1.")]
        public string? Out { get; init; }

        [CommandOption("--first-id <N>")]
        [Description("First National Pokédex id.")]
        [DefaultValue(1)]
        public int FirstId { get; init; } = 1;

        [CommandOption("--last-id <N>")]
        [Description("Last National Pokédex id (151 = the first generation, at most 649).")]
        [DefaultValue(151)]
        public int LastId { get; init; } = 151;

        [CommandOption("--force")]
        [Description("Rebuild even when a complete build is already there.")]
        public bool Force { get; init; }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var options = new PokemonSpriteDatasetOptions { FirstId = settings.FirstId, LastId = settings.LastId, Force = settings.Force };
        if (settings.Out is not null)
        {
            options.OutputDirectory = settings.Out;
        }

        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw CliException.Usage(e.Message);
        }

        var prepared = await ProgressView.RunAsync(cli.Console, view => PokemonSpriteDataset.PrepareAsync(
            options,
            view.For<DatasetPreparationProgress>((v, p) => v.Report(p.Stage, p.Completed, p.Total)),
            cancellationToken)).ConfigureAwait(false);
        cli.Console.MarkupLine($"[green]Dataset ready[/]{(prepared.FromCache ? " (already built)" : string.Empty)}: {Markup.Escape(prepared.ToString())}");
        cli.Console.MarkupLine($"Manifest: {Markup.Escape(prepared.ManifestPath)}");
        cli.Console.MarkupLine($"Next: [grey]pokeclassifier train {Markup.Escape(prepared.ManifestPath)} --out model.zip[/]");
        return ExitCodes.Ok;
    }
}
