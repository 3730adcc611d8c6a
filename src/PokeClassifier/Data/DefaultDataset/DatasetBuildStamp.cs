using System.Text.Json;
using System.Text.Json.Serialization;

namespace PokeClassifier.Data.DefaultDataset;

/// <summary>
/// The content of the <c>.complete</c> marker written last into a finished dataset folder: the options that shaped the
/// images, and what came out. A folder without it, or with other options, is rebuilt.
/// </summary>
internal sealed record DatasetBuildStamp
{
    /// <summary>The file name of the marker.</summary>
    public const string FileName = ".complete";

    /// <summary>Bumped whenever the builder changes what it writes, so that older folders are rebuilt.</summary>
    public const int CurrentFormat = 1;

    public int Format { get; init; } = CurrentFormat;

    public required string SpritesPackage { get; init; }

    public required string NamesPackage { get; init; }

    public int FirstId { get; init; }

    public int LastId { get; init; }

    public int ImageSize { get; init; }

    public int MaxFramesPerAnimation { get; init; }

    public double DuplicateThreshold { get; init; }

    public int MarginPercent { get; init; }

    public bool IncludeArtwork { get; init; }

    public int ClassCount { get; init; }

    public int ImageCount { get; init; }

    public static DatasetBuildStamp For(PokemonSpriteDatasetOptions options) => new()
    {
        SpritesPackage = PokemonSpriteDataset.SpritesPackage,
        NamesPackage = PokemonSpriteDataset.NamesPackage,
        FirstId = options.FirstId,
        LastId = options.LastId,
        ImageSize = options.ImageSize,
        MaxFramesPerAnimation = options.MaxFramesPerAnimation,
        DuplicateThreshold = options.DuplicateThreshold,
        MarginPercent = options.MarginPercent,
        IncludeArtwork = options.IncludeArtwork,
    };

    /// <summary>Whether both stamps describe images made the same way (the counts are not compared).</summary>
    public bool SameRecipe(DatasetBuildStamp other) =>
        this with { ClassCount = 0, ImageCount = 0 } == other with { ClassCount = 0, ImageCount = 0 };

    /// <summary>The stamp of a finished folder, or <see langword="null"/> when there is none or it cannot be read.</summary>
    public static DatasetBuildStamp? TryRead(string directory)
    {
        var path = Path.Combine(directory, FileName);
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize(File.ReadAllBytes(path), SpriteDatasetJsonContext.Default.DatasetBuildStamp) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>Writes the stamp into <paramref name="directory"/> atomically (a temporary file moved over the marker).</summary>
    public void Write(string directory)
    {
        var path = Path.Combine(directory, FileName);
        var temp = path + ".tmp";
        File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(this, SpriteDatasetJsonContext.Default.DatasetBuildStamp));
        File.Move(temp, path, overwrite: true);
    }
}

/// <summary>Source-generated JSON for the dataset builder (the marker and the names list of the <c>pokemon</c> package).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(DatasetBuildStamp))]
[JsonSerializable(typeof(string[]))]
internal sealed partial class SpriteDatasetJsonContext : JsonSerializerContext;
