namespace PokeClassifier.Data;

/// <summary>One labelled image of a dataset.</summary>
public sealed record DatasetItem
{
    /// <summary>Full path of the image file.</summary>
    public required string Path { get; init; }

    /// <summary>The class label.</summary>
    public required string Label { get; init; }

    /// <summary>
    /// Group key: images that share it (frames of one animation, photos of one object) are kept in one split.
    /// <see langword="null"/> means the image is its own group.
    /// </summary>
    public string? Group { get; init; }

    /// <summary>SHA-256 of the file's bytes as lowercase hex, when the dataset loader computed it.</summary>
    public string? ContentHash { get; init; }

    /// <summary>The group used for splitting: <see cref="Group"/>, or the path when there is none.</summary>
    public string GroupKey => Group ?? Path;
}
