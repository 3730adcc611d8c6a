namespace PokeClassifier.Data.DefaultDataset;

/// <summary>A dataset folder made by <see cref="PokemonSpriteDataset.PrepareAsync"/>, ready to load with <see cref="ImageDataset.FromManifestAsync"/>.</summary>
public sealed record PreparedDataset
{
    /// <summary>The full path of the dataset folder (one subfolder per class).</summary>
    public required string Directory { get; init; }

    /// <summary>
    /// The full path of <c>manifest.csv</c>, whose columns are
    /// <c>path,label,group,id,variant,pose_group,frame,frames_in_source</c>; <c>group</c> names one animation, whose frames must stay in one split.
    /// </summary>
    public required string ManifestPath { get; init; }

    /// <summary>How many classes (Pokémon) the dataset has.</summary>
    public int ClassCount { get; init; }

    /// <summary>How many images the dataset has.</summary>
    public int ImageCount { get; init; }

    /// <summary>Whether a complete dataset made earlier with the same options was reused, without downloading or decoding anything.</summary>
    public bool FromCache { get; init; }

    /// <inheritdoc />
    public override string ToString() =>
        $"{ClassCount} classes, {ImageCount} images in {Directory}{(FromCache ? " (from cache)" : string.Empty)}";
}
