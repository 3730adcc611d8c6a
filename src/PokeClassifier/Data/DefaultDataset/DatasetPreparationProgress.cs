using System.Globalization;

namespace PokeClassifier.Data.DefaultDataset;

/// <summary>How far <see cref="PokemonSpriteDataset.PrepareAsync"/> has come.</summary>
public sealed record DatasetPreparationProgress
{
    /// <summary>
    /// What is being done: <c>Downloading packages</c>, <c>Reading packages</c>, <c>Processing animations</c> or
    /// <c>Writing manifest</c>.
    /// </summary>
    public required string Stage { get; init; }

    /// <summary>How many steps of the stage are done.</summary>
    public int Completed { get; init; }

    /// <summary>How many steps the stage has.</summary>
    public int Total { get; init; }

    /// <summary>The part of the stage that is done, from 0 to 1.</summary>
    public double Fraction => Total <= 0 ? 0 : Math.Clamp((double)Completed / Total, 0, 1);

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Stage} {Completed}/{Total}");
}
