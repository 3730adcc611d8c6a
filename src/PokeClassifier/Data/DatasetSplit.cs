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
    /// Applies a split file: a CSV with columns <c>path</c> and <c>split</c> (<c>train</c>, <c>validation</c>/<c>val</c>, <c>test</c>).
    /// Paths are matched relative to the dataset root (for a manifest, its folder). Dataset items the file does not name are left out.
    /// </summary>
    /// <exception cref="DatasetException">The file lacks a column, names an unknown split, or leaves the test or train set empty.</exception>
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
        if (pathCol < 0 || splitCol < 0)
        {
            throw new DatasetException($"Split file '{splitCsvPath}' needs 'path' and 'split' columns; found: {string.Join(",", rows[0])}.");
        }

        var root = dataset.Root is null ? null : (File.Exists(dataset.Root) ? Path.GetDirectoryName(dataset.Root)! : dataset.Root);
        var byKey = dataset.Items.ToDictionary(i => Normalise(root is null ? i.Path : Path.GetRelativePath(root, i.Path)), StringComparer.Ordinal);
        var sets = new[] { new List<DatasetItem>(), new List<DatasetItem>(), new List<DatasetItem>() };
        for (var r = 1; r < rows.Count; r++)
        {
            var row = rows[r];
            if (row.Length <= Math.Max(pathCol, splitCol))
            {
                continue;
            }

            var index = row[splitCol].Trim().ToLowerInvariant() switch
            {
                "train" => 0,
                "validation" or "val" or "valid" => 1,
                "test" => 2,
                var other => throw new DatasetException($"Split file '{splitCsvPath}' line {r + 1}: unknown split '{other}' (use train, validation or test)."),
            };
            if (byKey.TryGetValue(Normalise(row[pathCol]), out var item))
            {
                sets[index].Add(item);
            }
        }

        if (sets[0].Count == 0 || sets[2].Count == 0)
        {
            throw new DatasetException($"Split file '{splitCsvPath}' leaves the {(sets[0].Count == 0 ? "train" : "test")} set empty; check that its paths are relative to '{root}'.");
        }

        return new DatasetSplit(dataset.Classes, sets[0], sets[1], sets[2]);
    }

    private static string Normalise(string path) => path.Replace('\\', '/').TrimStart('.', '/');

    /// <inheritdoc />
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"train {Train.Count}, validation {Validation.Count}, test {Test.Count} ({Classes.Count} classes)");
}
