using System.Globalization;

namespace PokeClassifier.Data;

/// <summary>A train / validation / test division of a dataset. Immutable.</summary>
public sealed class DatasetSplit
{
    /// <summary>Creates a split from item lists the caller chose.</summary>
    public DatasetSplit(IReadOnlyList<string> classes, IEnumerable<DatasetItem> train, IEnumerable<DatasetItem> validation, IEnumerable<DatasetItem> test, IEnumerable<string>? trainOnlyClasses = null)
    {
        ArgumentNullException.ThrowIfNull(classes);
        Classes = classes.ToArray().AsReadOnly();
        Train = train.ToArray().AsReadOnly();
        Validation = validation.ToArray().AsReadOnly();
        Test = test.ToArray().AsReadOnly();
        TrainOnlyClasses = (trainOnlyClasses ?? []).ToArray().AsReadOnly();
    }

    /// <summary>All class labels of the dataset, in ordinal order (the index used in probability vectors).</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>Training items.</summary>
    public IReadOnlyList<DatasetItem> Train { get; }

    /// <summary>Validation items (may be empty).</summary>
    public IReadOnlyList<DatasetItem> Validation { get; }

    /// <summary>Test items.</summary>
    public IReadOnlyList<DatasetItem> Test { get; }

    /// <summary>Classes that were too small and went entirely to training (see <see cref="SmallClassPolicy.TrainOnly"/>).</summary>
    public IReadOnlyList<string> TrainOnlyClasses { get; }

    /// <summary>Group keys found in more than one of the three sets (empty for a group-aware split).</summary>
    public IReadOnlyList<string> LeakingGroups()
    {
        var where = new Dictionary<string, HashSet<int>>(StringComparer.Ordinal);
        foreach (var (set, index) in new[] { (Train, 0), (Validation, 1), (Test, 2) })
        {
            foreach (var item in set.Where(i => i.Group is not null))
            {
                if (!where.TryGetValue(item.Group!, out var s))
                {
                    where[item.Group!] = s = [];
                }

                s.Add(index);
            }
        }

        return where.Where(kv => kv.Value.Count > 1).Select(kv => kv.Key).Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>
    /// Applies a split file: a CSV with columns <c>path</c> and <c>split</c> (<c>train</c>, <c>validation</c>/<c>val</c>, <c>test</c>),
    /// optionally <c>class</c> or <c>label</c>. Paths are matched relative to the dataset root (for a manifest, its folder).
    /// Dataset items the file does not name are left out. Rows of a class the dataset does not have are ignored (a dataset restricted
    /// to some classes keeps its split file); rows naming a file the dataset skipped (corrupt, empty) are ignored too, since the
    /// dataset lists those already.
    /// </summary>
    /// <exception cref="DatasetException">
    /// The file lacks a column, names an unknown split, names a path twice, has rows that match no image of the dataset, leaves a
    /// class without training images, or leaves the test or train set empty; the message lists the offending rows or classes.
    /// </exception>
    public static DatasetSplit FromFile(ImageDataset dataset, string splitCsvPath)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentException.ThrowIfNullOrEmpty(splitCsvPath);
        var rows = Csv.Read(splitCsvPath);
        if (rows.Count < 2)
        {
            throw new DatasetException($"Split file '{splitCsvPath}' has no rows.");
        }

        var header = rows[0].Select(h => h.Trim().ToLowerInvariant()).ToArray();
        int pathCol = Array.IndexOf(header, "path"), splitCol = Array.IndexOf(header, "split");
        var classCol = Array.IndexOf(header, "class") is >= 0 and var c ? c : Array.IndexOf(header, "label");
        if (pathCol < 0 || splitCol < 0)
        {
            throw new DatasetException($"Split file '{splitCsvPath}' needs 'path' and 'split' columns; found: {string.Join(",", rows[0])}.");
        }

        var root = dataset.Root is null ? null : (File.Exists(dataset.Root) ? Path.GetDirectoryName(dataset.Root)! : dataset.Root);
        string Key(string path) => Normalise(root is null ? path : Path.GetRelativePath(root, path));
        var byKey = dataset.Items.ToDictionary(i => Key(i.Path), StringComparer.Ordinal);
        var skippedKeys = dataset.Skipped.Select(f => Key(f.Path)).ToHashSet(StringComparer.Ordinal);
        var classes = dataset.Classes.ToHashSet(StringComparer.Ordinal);
        var sets = new[] { new List<DatasetItem>(), new List<DatasetItem>(), new List<DatasetItem>() };
        var unmatched = new List<string>();
        var named = new Dictionary<string, int>(StringComparer.Ordinal);
        var twice = new List<string>();
        for (var r = 1; r < rows.Count; r++)
        {
            var row = rows[r];
            if (row.Length == 1 && string.IsNullOrWhiteSpace(row[0]))
            {
                continue;
            }

            if (row.Length <= Math.Max(pathCol, splitCol))
            {
                throw new DatasetException($"Split file '{splitCsvPath}' line {r + 1} has {row.Length} field(s); the header has {header.Length}.");
            }

            var index = row[splitCol].Trim().ToLowerInvariant() switch
            {
                "train" => 0,
                "validation" or "val" or "valid" => 1,
                "test" => 2,
                var other => throw new DatasetException($"Split file '{splitCsvPath}' line {r + 1}: unknown split '{other}' (use train, validation or test)."),
            };
            var key = Normalise(row[pathCol].Trim());
            if (!named.TryAdd(key, r + 1))
            {
                twice.Add($"{row[pathCol]} (lines {named[key]} and {r + 1})");
                continue;
            }

            if (byKey.TryGetValue(key, out var item))
            {
                sets[index].Add(item);
            }
            else if (!skippedKeys.Contains(key) && !(classCol >= 0 && classCol < row.Length && !classes.Contains(row[classCol].Trim())))
            {
                unmatched.Add($"line {r + 1}: {row[pathCol]}");
            }
        }

        if (twice.Count > 0)
        {
            throw new DatasetException($"Split file '{splitCsvPath}' names {twice.Count} path(s) more than once: {List(twice)}.");
        }

        if (unmatched.Count > 0)
        {
            throw new DatasetException(
                $"Split file '{splitCsvPath}' has {unmatched.Count} row(s) that match no image of the dataset (paths are taken relative to '{root}'): {List(unmatched)}.");
        }

        var trainClasses = sets[0].Select(i => i.Label).ToHashSet(StringComparer.Ordinal);
        var untrained = dataset.Classes.Where(l => !trainClasses.Contains(l)).ToArray();
        if (untrained.Length > 0)
        {
            var inTest = sets[1].Concat(sets[2]).Select(i => i.Label).ToHashSet(StringComparer.Ordinal);
            throw new DatasetException(
                $"Split file '{splitCsvPath}' leaves {untrained.Length} class(es) without training images: " +
                $"{List(untrained.Select(l => inTest.Contains(l) ? $"{l} (only in validation/test)" : $"{l} (not named)").ToList())}. " +
                "Give each class at least one train row, or leave the class out of the dataset.");
        }

        if (sets[0].Count == 0 || sets[2].Count == 0)
        {
            throw new DatasetException($"Split file '{splitCsvPath}' leaves the {(sets[0].Count == 0 ? "train" : "test")} set empty; check that its paths are relative to '{root}'.");
        }

        return new DatasetSplit(dataset.Classes, sets[0], sets[1], sets[2]);
    }

    /// <summary>
    /// A fixed split from two labelled datasets, Kaggle style: every image of <paramref name="train"/> trains, every image of
    /// <paramref name="test"/> tests. The classes are those of the training set.
    /// </summary>
    /// <exception cref="DatasetException">The test set has classes the training set lacks (listed), or either set is empty.</exception>
    public static DatasetSplit FromTrainTest(ImageDataset train, ImageDataset test)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(test);
        if (train.Items.Count == 0 || test.Items.Count == 0)
        {
            throw new DatasetException($"The {(train.Items.Count == 0 ? "training" : "test")} set has no usable image.");
        }

        var missing = test.Classes.Where(c => !train.Classes.Contains(c, StringComparer.Ordinal)).ToList();
        if (missing.Count > 0)
        {
            throw new DatasetException(
                $"The test set has {missing.Count} class(es) with no training images: {List(missing)}. The training set's classes are: {List(train.Classes.ToList())}.");
        }

        return new DatasetSplit(train.Classes, train.Items, [], test.Items);
    }

    private static string List(List<string> items) =>
        string.Join(", ", items.Take(20)) + (items.Count > 20 ? $", ... ({items.Count - 20} more)" : string.Empty);

    private static string Normalise(string path) => path.Replace('\\', '/').TrimStart('.', '/');

    /// <inheritdoc />
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"train {Train.Count}, validation {Validation.Count}, test {Test.Count} ({Classes.Count} classes)");
}
