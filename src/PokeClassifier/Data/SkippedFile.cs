namespace PokeClassifier.Data;

/// <summary>Why a file was left out of a dataset or a featurization run.</summary>
public enum SkipReason
{
    /// <summary>The file has zero bytes.</summary>
    Empty,

    /// <summary>The content is not an image (text, archive, unknown bytes), whatever its extension.</summary>
    NotAnImage,

    /// <summary>The image format is recognised but not supported (SVG and other vector formats, HEIF).</summary>
    UnsupportedFormat,

    /// <summary>The image data ends early or is damaged.</summary>
    Truncated,

    /// <summary>The file could not be read (permissions, I/O error) or decoding failed for another reason.</summary>
    Unreadable,

    /// <summary>The image is larger than the configured limit.</summary>
    TooLarge,

    /// <summary>
    /// Not a regular file, so never opened: a FIFO (named pipe), socket or device, or a link to a folder that is not followed
    /// (a folder link inside a class folder, or one that leads back into the dataset: a cycle or an alias of another class).
    /// </summary>
    NotARegularFile,
}

/// <summary>A file that was not used, with the reason. Nothing is dropped silently: every such file is listed.</summary>
public sealed record SkippedFile
{
    /// <summary>Full path of the file.</summary>
    public required string Path { get; init; }

    /// <summary>The class the file would have belonged to, when known.</summary>
    public string? Label { get; init; }

    /// <summary>The kind of problem.</summary>
    public required SkipReason Reason { get; init; }

    /// <summary>A readable explanation.</summary>
    public required string Detail { get; init; }

    /// <inheritdoc />
    public override string ToString() => $"{Path}: {Reason} ({Detail})";
}

/// <summary>Files with identical bytes. When <see cref="CrossesClasses"/> is true, the same picture carries two labels: a labelling error.</summary>
public sealed record DuplicateGroup
{
    /// <summary>SHA-256 of the shared content.</summary>
    public required string ContentHash { get; init; }

    /// <summary>The items sharing it (at least two), ordered by path.</summary>
    public required IReadOnlyList<DatasetItem> Items { get; init; }

    /// <summary>Whether the copies carry different labels.</summary>
    public bool CrossesClasses => Items.Select(i => i.Label).Distinct(StringComparer.Ordinal).Skip(1).Any();

    /// <inheritdoc />
    public override string ToString() =>
        $"{Items.Count} copies{(CrossesClasses ? " under different classes" : string.Empty)}: " +
        string.Join(", ", Items.Select(i => $"{i.Path} [{i.Label}]"));
}

/// <summary>The result of <see cref="ImageDataset.ListFiles"/>: the regular files found, and everything else with its reason.</summary>
public sealed record FileListing
{
    /// <summary>Regular files (or links to regular files), in the order the paths were given; a folder's files in ordinal order.</summary>
    public required IReadOnlyList<string> Files { get; init; }

    /// <summary>Paths found but not listed in <see cref="Files"/>, with the reason.</summary>
    public required IReadOnlyList<SkippedFile> Skipped { get; init; }
}
