namespace PokeClassifier.Data;

/// <summary>Stratified and group-aware splitting. Deterministic for a seed.</summary>
internal static class Splitter
{
    /// <summary>
    /// Per class, whole groups are shuffled with the seed and dealt out: test first until it holds its share, then validation,
    /// the rest to training. Each split with a non-zero share gets at least one group of every class.
    /// </summary>
    public static DatasetSplit Split(ImageDataset dataset, SplitOptions options)
    {
        options.Validate();
        var groupAware = options.GroupAware ?? dataset.HasGroups;
        var units = Units(dataset, groupAware);
        var rng = new Random(options.Seed);
        var train = new List<DatasetItem>();
        var validation = new List<DatasetItem>();
        var test = new List<DatasetItem>();
        var trainOnly = new List<string>();
        var tooSmall = new List<string>();
        var needed = 1 + (options.ValidationFraction > 0 ? 1 : 0) + (options.TestFraction > 0 ? 1 : 0);

        foreach (var (label, groups) in units)
        {
            var shuffled = Shuffle(groups, rng);
            var total = shuffled.Sum(g => g.Count);
            if (shuffled.Count < needed)
            {
                if (options.SmallClasses == SmallClassPolicy.TrainOnly)
                {
                    trainOnly.Add(label);
                    train.AddRange(shuffled.SelectMany(g => g));
                }
                else
                {
                    tooSmall.Add($"{label} ({total} images in {shuffled.Count} {(groupAware ? "groups" : "images")})");
                }

                continue;
            }

            var testTarget = options.TestFraction > 0 ? Math.Max(1, (int)Math.Round(total * options.TestFraction)) : 0;
            var valTarget = options.ValidationFraction > 0 ? Math.Max(1, (int)Math.Round(total * options.ValidationFraction)) : 0;
            var i = 0;
            i = Deal(shuffled, i, testTarget, shuffled.Count - i - (needed - 1), test);
            i = Deal(shuffled, i, valTarget, shuffled.Count - i - 1, validation);
            for (; i < shuffled.Count; i++)
            {
                train.AddRange(shuffled[i]);
            }
        }

        if (tooSmall.Count > 0)
        {
            throw new DatasetException(
                $"{tooSmall.Count} class(es) are too small for a {needed}-way split: {string.Join(", ", tooSmall.Take(20))}{(tooSmall.Count > 20 ? ", ..." : string.Empty)}. " +
                "Each needs at least one group per split. Add images, drop the validation share, or set SmallClasses = SmallClassPolicy.TrainOnly.");
        }

        return new DatasetSplit(dataset.Classes, train, validation, test, trainOnly);
    }

    /// <summary>Stratified (and group-aware) k-fold: fold i is the test set of split i, the other folds its training set.</summary>
    public static IReadOnlyList<DatasetSplit> KFold(ImageDataset dataset, int k, int seed, bool? groupAware)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 2);
        var aware = groupAware ?? dataset.HasGroups;
        var units = Units(dataset, aware);
        var small = units.Where(u => u.Groups.Count < k).Select(u => $"{u.Label} ({u.Groups.Count})").ToList();
        if (small.Count > 0)
        {
            throw new DatasetException($"{small.Count} class(es) have fewer {(aware ? "groups" : "images")} than the {k} folds: {string.Join(", ", small.Take(20))}. Use fewer folds or add images.");
        }

        var rng = new Random(seed);
        var folds = Enumerable.Range(0, k).Select(_ => new List<DatasetItem>()).ToArray();
        foreach (var (_, groups) in units)
        {
            // Largest groups first into the fold of this class that is smallest so far; ties by fold index after a seeded shuffle.
            var counts = new int[k];
            foreach (var g in Shuffle(groups, rng).OrderByDescending(g => g.Count))
            {
                var target = Enumerable.Range(0, k).MinBy(f => counts[f]);
                counts[target] += g.Count;
                folds[target].AddRange(g);
            }
        }

        return Enumerable.Range(0, k)
            .Select(f => new DatasetSplit(dataset.Classes, folds.Where((_, j) => j != f).SelectMany(x => x), [], folds[f]))
            .ToArray();
    }

    /// <summary>
    /// Holds out about <paramref name="fraction"/> of each class's items for validation, in whole groups (<see cref="DatasetItem.GroupKey"/>)
    /// drawn with the seed; a class keeps at least one group for training, so a class with one group stays whole in training.
    /// </summary>
    public static (IReadOnlyList<DatasetItem> Train, IReadOnlyList<DatasetItem> Validation) Holdout(IReadOnlyList<DatasetItem> items, double fraction, int seed)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (fraction <= 0)
        {
            return (items, []);
        }

        var rng = new Random(seed);
        var train = new List<DatasetItem>();
        var validation = new List<DatasetItem>();
        foreach (var (_, groups) in Units(items, groupAware: true))
        {
            var shuffled = Shuffle(groups, rng);
            var target = Math.Max(1, (int)Math.Round(shuffled.Sum(g => g.Count) * fraction));
            var i = Deal(shuffled, 0, target, shuffled.Count - 1, validation);
            for (; i < shuffled.Count; i++)
            {
                train.AddRange(shuffled[i]);
            }
        }

        return (train, validation);
    }

    private static int Deal(List<List<DatasetItem>> groups, int start, int target, int maxGroups, List<DatasetItem> into)
    {
        var taken = 0;
        var count = 0;
        var i = start;
        while (target > 0 && i < groups.Count && count < maxGroups && (taken == 0 || taken < target))
        {
            // Stop before a group that would overshoot the target by more than it fills.
            if (taken > 0 && taken + groups[i].Count - target > target - taken)
            {
                break;
            }

            into.AddRange(groups[i]);
            taken += groups[i].Count;
            count++;
            i++;
        }

        return i;
    }

    private static List<(string Label, List<List<DatasetItem>> Groups)> Units(ImageDataset dataset, bool groupAware) => Units(dataset.Items, groupAware);

    private static List<(string Label, List<List<DatasetItem>> Groups)> Units(IEnumerable<DatasetItem> items, bool groupAware)
    {
        // A unit is a group (or one image), merged with every other unit holding a byte-identical copy of one of its images, so the
        // same picture under two names (or two groups) never lands in two sets. A unit is assigned to the class most of its items
        // carry, so a unit that straddles classes still moves as one.
        var list = items as IReadOnlyList<DatasetItem> ?? items.ToArray();
        var parent = Enumerable.Range(0, list.Count).ToArray();
        int Find(int x)
        {
            while (parent[x] != x)
            {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }

            return x;
        }

        void Union(int a, int b)
        {
            (a, b) = (Find(a), Find(b));
            if (a != b)
            {
                parent[Math.Max(a, b)] = Math.Min(a, b);
            }
        }

        var firstByKey = new Dictionary<string, int>(StringComparer.Ordinal);
        var firstByContent = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < list.Count; i++)
        {
            var key = groupAware ? list[i].GroupKey : list[i].Path;
            if (!firstByKey.TryAdd(key, i))
            {
                Union(firstByKey[key], i);
            }

            if (list[i].ContentHash is { } hash && !firstByContent.TryAdd(hash, i))
            {
                Union(firstByContent[hash], i);
            }
        }

        var groups = Enumerable.Range(0, list.Count).GroupBy(Find)
            .Select(g => g.Select(i => list[i]).OrderBy(i => i.Path, StringComparer.Ordinal).ToList())
            .ToList();
        return groups
            .GroupBy(g => g.GroupBy(i => i.Label, StringComparer.Ordinal).OrderByDescending(x => x.Count()).ThenBy(x => x.Key, StringComparer.Ordinal).First().Key, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (g.Key, g.OrderBy(x => x[0].Path, StringComparer.Ordinal).ToList()))
            .ToList();
    }

    private static List<List<DatasetItem>> Shuffle(List<List<DatasetItem>> groups, Random rng)
    {
        var copy = groups.ToList();
        for (var i = copy.Count - 1; i > 0; i--)
        {
            var j = rng.Next(i + 1);
            (copy[i], copy[j]) = (copy[j], copy[i]);
        }

        return copy;
    }
}
