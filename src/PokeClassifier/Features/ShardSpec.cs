using System.Globalization;
using PokeClassifier.Data;

namespace PokeClassifier.Features;

/// <summary>
/// One shard of a job split over several machines or processes (a Kubernetes indexed job, a Slurm array, any runner that hands
/// out an index): shard <see cref="Index"/> of <see cref="Count"/> takes every <see cref="Count"/>-th image of the list sorted by
/// path (ordinal), starting at position <see cref="Index"/>. The shards of one list are disjoint, cover it exactly, differ in size
/// by at most one and do not depend on the order the list came in; every shard must see the same paths (the same folder or
/// manifest at the same mount point). Shards featurizing into one shared <see cref="FeatureCache"/> folder fill it with exactly
/// the entries one process would write (entries are content-addressed and written atomically), and one later run reads them all.
/// </summary>
public sealed record ShardSpec
{
    /// <summary>Creates shard <paramref name="index"/> (0-based) of <paramref name="count"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is below 1, or <paramref name="index"/> is not in 0..count-1.</exception>
    public ShardSpec(int index, int count)
    {
        if (count < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(count), count, $"A shard count must be at least 1 (was {count}).");
        }

        if (index < 0 || index >= count)
        {
            throw new ArgumentOutOfRangeException(nameof(index), index, $"A shard index must be in 0..{count - 1} for {count} shard(s) (was {index}).");
        }

        Index = index;
        Count = count;
    }

    /// <summary>The whole list as one shard (0 of 1).</summary>
    public static ShardSpec All { get; } = new(0, 1);

    /// <summary>The shard's 0-based index.</summary>
    public int Index { get; }

    /// <summary>How many shards the list is split into.</summary>
    public int Count { get; }

    /// <summary>Parses <c>i/n</c> (0-based index, count), e.g. <c>0/4</c> to <c>3/4</c>.</summary>
    /// <exception cref="FormatException">The text is not <c>i/n</c> with 0 &lt;= i &lt; n.</exception>
    public static ShardSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split('/', StringSplitOptions.TrimEntries);
        if (parts.Length == 2 &&
            int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var index) &&
            int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count) &&
            count >= 1 && index < count)
        {
            return new ShardSpec(index, count);
        }

        throw new FormatException($"'{text}' is not a shard: use i/n with a 0-based index i below the count n, e.g. 0/4 ... 3/4 (in a Kubernetes indexed job: $JOB_COMPLETION_INDEX/<completions>; in a Slurm array: $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT with --array=0-<n-1>).");
    }

    /// <summary>This shard's items of <paramref name="items"/>, in path order.</summary>
    public IReadOnlyList<DatasetItem> Select(IEnumerable<DatasetItem> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        return Take(items, i => i.Path);
    }

    /// <summary>This shard's paths of <paramref name="paths"/>, in path order.</summary>
    public IReadOnlyList<string> Select(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        return Take(paths, p => p);
    }

    /// <summary><c>i/n</c>, as <see cref="Parse"/> reads it.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");

    private T[] Take<T>(IEnumerable<T> source, Func<T, string> path) =>
        source.OrderBy(path, StringComparer.Ordinal).Where((_, position) => position % Count == Index).ToArray();
}
