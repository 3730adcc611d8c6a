using System.Globalization;
using System.Collections.Concurrent;
using System.Collections.ObjectModel;
using System.Security.Cryptography;
using System.Text;

namespace PokeClassifier.Data;

/// <summary>
/// A labelled image set: the usable items, the files that were skipped (with reasons) and the exact duplicates found.
/// Immutable once loaded.
/// </summary>
public sealed class ImageDataset
{
    /// <summary>Creates a dataset from items the caller already has (no file checks are made).</summary>
    /// <param name="items">The items.</param>
    /// <param name="skipped">Files left out, if any.</param>
    /// <param name="root">The folder the items came from, if any.</param>
    public ImageDataset(IEnumerable<DatasetItem> items, IEnumerable<SkippedFile>? skipped = null, string? root = null)
    {
        ArgumentNullException.ThrowIfNull(items);
        Items = items.OrderBy(i => i.Label, StringComparer.Ordinal).ThenBy(i => i.Path, StringComparer.Ordinal).ToArray().AsReadOnly();
        Skipped = (skipped ?? []).OrderBy(s => s.Path, StringComparer.Ordinal).ToArray().AsReadOnly();
        Root = root;
        Classes = Items.Select(i => i.Label).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray().AsReadOnly();
        CountByClass = new ReadOnlyDictionary<string, int>(Items.GroupBy(i => i.Label, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal));
        Duplicates = Items.Where(i => i.ContentHash is not null)
            .GroupBy(i => i.ContentHash!, StringComparer.Ordinal)
            .Where(g => g.Count() > 1)
            .Select(g => new DuplicateGroup { ContentHash = g.Key, Items = g.OrderBy(i => i.Path, StringComparer.Ordinal).ToArray() })
            .OrderBy(d => d.Items[0].Path, StringComparer.Ordinal)
            .ToArray().AsReadOnly();
    }

    /// <summary>The folder or manifest the dataset was loaded from, when it was loaded from disk.</summary>
    public string? Root { get; }

    /// <summary>The usable images, ordered by label then path.</summary>
    public IReadOnlyList<DatasetItem> Items { get; }

    /// <summary>The class labels, in ordinal order. A class's index in this list is its index in probability vectors.</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>How many usable images each class has.</summary>
    public IReadOnlyDictionary<string, int> CountByClass { get; }

    /// <summary>Every file that was found but not used, with the reason.</summary>
    public IReadOnlyList<SkippedFile> Skipped { get; }

    /// <summary>Groups of files with identical bytes (see <see cref="DuplicateGroup.CrossesClasses"/> for labelling errors).</summary>
    public IReadOnlyList<DuplicateGroup> Duplicates { get; }

    /// <summary>Whether any item carries a group key.</summary>
    public bool HasGroups => Items.Any(i => i.Group is not null);

    /// <summary>Loads a folder-per-class tree: each top-level subfolder is a class, files in nested folders count for it, files at the root are ignored (and listed).</summary>
    /// <param name="root">The dataset folder.</param>
    /// <param name="options">Loading options; <see langword="null"/> for the defaults.</param>
    /// <param name="progress">Receives the number of files checked.</param>
    /// <param name="cancellationToken">Stops the load.</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="DatasetException">No usable image was found.</exception>
    public static async Task<ImageDataset> FromFolderAsync(string root, DatasetLoadOptions? options = null, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        options ??= new DatasetLoadOptions();
        options.Validate();
        var full = Path.GetFullPath(root);
        if (!Directory.Exists(full))
        {
            throw new DirectoryNotFoundException($"Dataset folder '{full}' does not exist.");
        }

        var candidates = new List<(string Path, string Label, string? Group)>();
        var walker = new FolderWalker(options.IgnoreHidden);
        walker.MarkVisited(full);
        var realRoot = FileProbe.RealPath(full);
        List<string> entries;
        try
        {
            entries = Directory.EnumerateFileSystemEntries(full).Order(StringComparer.Ordinal).ToList();
        }
        catch (UnauthorizedAccessException e)
        {
            throw new DatasetException($"Dataset folder '{full}' cannot be listed: {e.Message}", e);
        }

        foreach (var entry in entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var name = Path.GetFileName(entry);
            if (options.IgnoreHidden && name.StartsWith('.'))
            {
                continue;
            }

            var status = FileProbe.Stat(entry, followLinks: false);
            if (status.Kind == FileKind.SymbolicLink)
            {
                var target = FileProbe.Stat(entry, followLinks: true);
                if (target.Kind == FileKind.Directory)
                {
                    // A class folder may be a link to images kept elsewhere, but never back into the dataset: that is a cycle
                    // (the link holds the dataset) or an alias (the same images under a second label).
                    var real = FileProbe.RealPath(entry);
                    if (FileProbe.IsSameOrInside(realRoot, real))
                    {
                        walker.Skipped.Add(new SkippedFile { Path = entry, Label = name, Reason = SkipReason.NotARegularFile, Detail = $"a link to a folder that holds the dataset folder itself ({FolderWalker.LinkText(entry)}): following it would walk the dataset again (a cycle); not followed" });
                        continue;
                    }

                    if (FileProbe.IsSameOrInside(real, realRoot))
                    {
                        walker.Skipped.Add(new SkippedFile { Path = entry, Label = name, Reason = SkipReason.NotARegularFile, Detail = $"a link to a folder inside the dataset ({FolderWalker.LinkText(entry)}): its images would be counted a second time under another label; not followed" });
                        continue;
                    }
                }

                status = target;
            }

            switch (status.Kind)
            {
                case FileKind.Directory:
                    var before = walker.Skipped.Count;
                    var files = walker.Walk(entry, name);
                    foreach (var file in files)
                    {
                        candidates.Add((file, name, null));
                    }

                    if (files.Count == 0 && walker.Skipped.Count == before)
                    {
                        walker.Skipped.Add(new SkippedFile { Path = entry, Label = name, Reason = SkipReason.Empty, Detail = "the class folder holds no files: the class is left out" });
                    }

                    break;
                case FileKind.Regular:
                    if (!IsSidecar(entry))
                    {
                        walker.Skipped.Add(new SkippedFile { Path = entry, Reason = SkipReason.NotAnImage, Detail = "file at the dataset root belongs to no class (classes are top-level folders)" });
                    }

                    break;
                case FileKind.Missing:
                    walker.Skipped.Add(new SkippedFile { Path = entry, Reason = SkipReason.Unreadable, Detail = $"missing: it disappeared while the folder was being listed, or is a link that points nowhere ({FolderWalker.LinkText(entry)})" });
                    break;
                case FileKind.Inaccessible:
                    walker.Skipped.Add(new SkippedFile { Path = entry, Reason = SkipReason.Unreadable, Detail = $"cannot be examined: {status.Error}" });
                    break;
                default:
                    walker.Skipped.Add(new SkippedFile { Path = entry, Reason = SkipReason.NotARegularFile, Detail = $"{status.Describe()}, not a regular file: never opened" });
                    break;
            }
        }

        var skipped = walker.Skipped;
        return await CheckAsync(candidates, skipped, full, options, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Synchronous form of <see cref="FromFolderAsync"/>.</summary>
    public static ImageDataset FromFolder(string root, DatasetLoadOptions? options = null) =>
        FromFolderAsync(root, options).GetAwaiter().GetResult();

    /// <summary>
    /// Loads a CSV manifest with a header naming at least <c>path</c> and <c>label</c> (or <c>class</c>), and optionally
    /// <c>group</c> (or the column named by <see cref="DatasetLoadOptions.GroupColumn"/>). Relative paths are relative to the manifest's folder.
    /// </summary>
    /// <exception cref="FileNotFoundException">The manifest does not exist.</exception>
    /// <exception cref="DatasetException">The header lacks a required column, or no usable image was found.</exception>
    public static async Task<ImageDataset> FromManifestAsync(string manifestPath, DatasetLoadOptions? options = null, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(manifestPath);
        options ??= new DatasetLoadOptions();
        options.Validate();
        var full = Path.GetFullPath(manifestPath);
        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"Manifest '{full}' does not exist.", full);
        }

        var baseDir = Path.GetDirectoryName(full)!;
        var rows = Csv.Read(full);
        if (rows.Count == 0)
        {
            throw new DatasetException($"Manifest '{full}' is empty.");
        }

        var header = rows[0].Select(h => h.Trim().ToLowerInvariant()).ToArray();
        var pathCol = Array.IndexOf(header, "path");
        var labelCol = Array.IndexOf(header, "label");
        if (labelCol < 0)
        {
            labelCol = Array.IndexOf(header, "class");
        }

        var groupCol = Array.IndexOf(header, "group");
        if (groupCol < 0)
        {
            groupCol = Array.IndexOf(header, options.GroupColumn.ToLowerInvariant());
        }

        if (pathCol < 0 || labelCol < 0)
        {
            throw new DatasetException($"Manifest '{full}' must have a header with 'path' and 'label' (or 'class') columns; found: {string.Join(",", rows[0])}.");
        }

        var candidates = new List<(string, string, string?)>();
        var skipped = new List<SkippedFile>();
        for (var r = 1; r < rows.Count; r++)
        {
            var row = rows[r];
            if (row.Length == 1 && string.IsNullOrWhiteSpace(row[0]))
            {
                continue;
            }

            if (row.Length <= Math.Max(pathCol, labelCol) || string.IsNullOrWhiteSpace(row[pathCol]) || string.IsNullOrWhiteSpace(row[labelCol]))
            {
                skipped.Add(new SkippedFile { Path = $"{full}:{r + 1}", Reason = SkipReason.Unreadable, Detail = "manifest row lacks a path or a label" });
                continue;
            }

            var path = Path.GetFullPath(Path.Combine(baseDir, row[pathCol].Replace('/', Path.DirectorySeparatorChar)));
            var group = groupCol >= 0 && groupCol < row.Length && !string.IsNullOrWhiteSpace(row[groupCol]) ? row[groupCol] : null;
            candidates.Add((path, row[labelCol].Trim(), group));
        }

        return await CheckAsync(candidates, skipped, full, options, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Synchronous form of <see cref="FromManifestAsync"/>.</summary>
    public static ImageDataset FromManifest(string manifestPath, DatasetLoadOptions? options = null) =>
        FromManifestAsync(manifestPath, options).GetAwaiter().GetResult();

    /// <summary>
    /// Lists the files to classify among <paramref name="paths"/>: a file is taken as it is; a folder is walked like a class folder
    /// (any depth, hidden entries ignored when <see cref="DatasetLoadOptions.IgnoreHidden"/>, links to folders not followed). Only
    /// regular files are returned; everything else found (FIFOs, devices, folder links, folders that cannot be listed, missing paths)
    /// is in <see cref="FileListing.Skipped"/> with its reason. Nothing is opened.
    /// </summary>
    public static FileListing ListFiles(IEnumerable<string> paths, DatasetLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        options ??= new DatasetLoadOptions();
        options.Validate();
        var walker = new FolderWalker(options.IgnoreHidden);
        var files = new List<string>();
        foreach (var path in paths)
        {
            var full = Path.GetFullPath(path);
            var status = FileProbe.Stat(full);
            switch (status.Kind)
            {
                case FileKind.Regular:
                    files.Add(path);
                    break;
                case FileKind.Directory:
                    files.AddRange(walker.Walk(path, null));
                    break;
                case FileKind.Missing:
                    walker.Skipped.Add(new SkippedFile { Path = path, Reason = SkipReason.Unreadable, Detail = "does not exist" });
                    break;
                case FileKind.Inaccessible:
                    walker.Skipped.Add(new SkippedFile { Path = path, Reason = SkipReason.Unreadable, Detail = $"cannot be examined: {status.Error}" });
                    break;
                default:
                    walker.Skipped.Add(new SkippedFile { Path = path, Reason = SkipReason.NotARegularFile, Detail = $"{status.Describe()}, not a regular file: never opened" });
                    break;
            }
        }

        return new FileListing { Files = files.AsReadOnly(), Skipped = walker.Skipped.AsReadOnly() };
    }

    /// <summary>A dataset holding only the items that match the predicate (skipped files are kept).</summary>
    public ImageDataset Where(Func<DatasetItem, bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        return new ImageDataset(Items.Where(predicate), Skipped, Root);
    }

    /// <summary>Stratified train / validation / test split; group-aware whenever the items carry groups (see <see cref="SplitOptions.GroupAware"/>).</summary>
    /// <exception cref="DatasetException">A class is too small for the split (see <see cref="SplitOptions.SmallClasses"/>).</exception>
    public DatasetSplit Split(SplitOptions? options = null) => Splitter.Split(this, options ?? new SplitOptions());

    /// <summary>Stratified k-fold: returns k splits, fold i being the test set of split i. Group-aware whenever the items carry groups.</summary>
    /// <exception cref="DatasetException">A class has fewer groups than folds.</exception>
    public IReadOnlyList<DatasetSplit> KFold(int folds = 5, int seed = 42, bool? groupAware = null) => Splitter.KFold(this, folds, seed, groupAware);

    /// <summary>A short summary: classes, images, skipped files and duplicates.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{Items.Count} images in {Classes.Count} classes");
        if (Skipped.Count > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $", {Skipped.Count} skipped");
        }

        if (Duplicates.Count > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $", {Duplicates.Count} duplicate groups ({Duplicates.Count(d => d.CrossesClasses)} across classes)");
        }

        return sb.ToString();
    }

    private static bool IsSidecar(string file)
    {
        var name = Path.GetFileName(file).ToLowerInvariant();
        return name.EndsWith(".csv", StringComparison.Ordinal) || name.EndsWith(".tsv", StringComparison.Ordinal) || name.EndsWith(".txt", StringComparison.Ordinal) ||
               name.EndsWith(".md", StringComparison.Ordinal) || name.EndsWith(".json", StringComparison.Ordinal) || name.StartsWith("licen", StringComparison.Ordinal);
    }

    private static async Task<ImageDataset> CheckAsync(
        List<(string Path, string Label, string? Group)> candidates, List<SkippedFile> skipped, string root,
        DatasetLoadOptions options, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        var items = new ConcurrentBag<DatasetItem>();
        var bad = new ConcurrentBag<SkippedFile>();
        var done = 0;
        await Parallel.ForEachAsync(candidates, new ParallelOptions { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism, CancellationToken = cancellationToken }, (c, ct) =>
        {
            try
            {
                ct.ThrowIfCancellationRequested();
                var bytes = FileProbe.ReadRegularFile(c.Path);
                if (options.VerifyImages)
                {
                    ImageDecoder.Verify(bytes, c.Path);
                }
                else if (bytes.Length == 0)
                {
                    throw new InvalidImageException(c.Path, SkipReason.Empty, "the file is empty (0 bytes)");
                }

                items.Add(new DatasetItem { Path = c.Path, Label = c.Label, Group = c.Group, ContentHash = Convert.ToHexStringLower(SHA256.HashData(bytes)) });
            }
            catch (InvalidImageException e)
            {
                bad.Add(new SkippedFile { Path = c.Path, Label = c.Label, Reason = e.Reason, Detail = e.Message[(c.Path.Length + 2)..] });
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                bad.Add(new SkippedFile { Path = c.Path, Label = c.Label, Reason = SkipReason.Unreadable, Detail = e.Message });
            }

            progress?.Report(Interlocked.Increment(ref done));
            return ValueTask.CompletedTask;
        }).ConfigureAwait(false);

        var dataset = new ImageDataset(items, skipped.Concat(bad), root);
        if (dataset.Items.Count == 0)
        {
            var why = dataset.Skipped.Count > 0 ? $" ({dataset.Skipped.Count} files were skipped, e.g. {dataset.Skipped[0]})" : string.Empty;
            throw new DatasetException($"No usable image was found under '{root}'{why}. Expected one folder per class with images inside.");
        }

        return dataset;
    }
}
