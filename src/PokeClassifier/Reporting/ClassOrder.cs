using System.Globalization;
using PokeClassifier.Data;
using PokeClassifier.Evaluation;

namespace PokeClassifier.Reporting;

/// <summary>Orders classes for confusion heatmaps so that related classes sit side by side.</summary>
public static class ClassOrder
{
    /// <summary>
    /// The labels of a CSV manifest ordered by a numeric column (for the Pokémon datasets, <c>id</c>: the Pokédex number, which puts
    /// evolution lines such as Bulbasaur, Ivysaur, Venusaur together), ties and non-numeric values by label.
    /// </summary>
    /// <param name="manifestPath">A CSV manifest with a header naming a <c>label</c> (or <c>class</c>) column and <paramref name="column"/>.</param>
    /// <param name="column">The numeric column to order by. The default is <c>id</c>.</param>
    /// <returns>The distinct labels in order, or <see langword="null"/> when the manifest has no such column.</returns>
    /// <exception cref="FileNotFoundException">The manifest does not exist.</exception>
    public static IReadOnlyList<string>? FromManifest(string manifestPath, string column = "id")
    {
        ArgumentException.ThrowIfNullOrEmpty(manifestPath);
        ArgumentException.ThrowIfNullOrEmpty(column);
        if (!File.Exists(manifestPath))
        {
            throw new FileNotFoundException($"Manifest '{manifestPath}' does not exist.", manifestPath);
        }

        var rows = Csv.Read(manifestPath);
        if (rows.Count < 2)
        {
            return null;
        }

        var header = rows[0].Select(h => h.Trim().ToLowerInvariant()).ToArray();
        var labelColumn = Array.IndexOf(header, "label");
        if (labelColumn < 0)
        {
            labelColumn = Array.IndexOf(header, "class");
        }

        var keyColumn = Array.IndexOf(header, column.ToLowerInvariant());
        if (labelColumn < 0 || keyColumn < 0)
        {
            return null;
        }

        var keys = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var row in rows.Skip(1).Where(r => r.Length > Math.Max(labelColumn, keyColumn)))
        {
            var label = row[labelColumn].Trim();
            var key = double.TryParse(row[keyColumn], NumberStyles.Float, CultureInfo.InvariantCulture, out var k) ? k : double.MaxValue;
            if (label.Length > 0 && (!keys.TryGetValue(label, out var old) || key < old))
            {
                keys[label] = key;
            }
        }

        return keys.OrderBy(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key).ToArray();
    }

    /// <summary>
    /// Orders the matrix's labels so that classes confused with each other sit together: average-linkage agglomerative clustering
    /// on the similarity (share of A taken for B + share of B taken for A), leaves in dendrogram order. Deterministic.
    /// </summary>
    public static IReadOnlyList<string> ByConfusion(ConfusionMatrix matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        var n = matrix.Labels.Count;
        var share = new double[n, n];
        for (var i = 0; i < n; i++)
        {
            double row = 0;
            for (var j = 0; j < n; j++)
            {
                row += matrix[i, j];
            }

            for (var j = 0; j < n; j++)
            {
                share[i, j] = row > 0 ? matrix[i, j] / row : 0;
            }
        }

        // Each cluster keeps its leaves in order; merging joins two leaf lists, choosing the orientation that puts the most
        // similar ends next to each other.
        var clusters = Enumerable.Range(0, n).Select(i => new List<int> { i }).ToList();
        double Similarity(int a, int b) => a == b ? 0 : share[a, b] + share[b, a];
        double Linkage(List<int> a, List<int> b)
        {
            double sum = 0;
            foreach (var x in a)
            {
                foreach (var y in b)
                {
                    sum += Similarity(x, y);
                }
            }

            return sum / (a.Count * b.Count);
        }

        var linkage = new double[n, n];
        for (var a = 0; a < n; a++)
        {
            for (var b = a + 1; b < n; b++)
            {
                linkage[a, b] = linkage[b, a] = Similarity(a, b);
            }
        }

        var ids = Enumerable.Range(0, n).ToList();
        while (clusters.Count > 1)
        {
            var (bestA, bestB, best) = (0, 1, double.NegativeInfinity);
            for (var a = 0; a < clusters.Count; a++)
            {
                for (var b = a + 1; b < clusters.Count; b++)
                {
                    var s = linkage[ids[a], ids[b]];
                    if (s > best)
                    {
                        (bestA, bestB, best) = (a, b, s);
                    }
                }
            }

            if (best <= 0)
            {
                break; // the rest are never confused with each other: keep them in class-list order
            }

            var merged = Join(clusters[bestA], clusters[bestB], Similarity);
            clusters[bestA] = merged;
            clusters.RemoveAt(bestB);
            ids.RemoveAt(bestB);
            for (var c = 0; c < clusters.Count; c++)
            {
                if (c != bestA)
                {
                    linkage[ids[bestA], ids[c]] = linkage[ids[c], ids[bestA]] = Linkage(merged, clusters[c]);
                }
            }
        }

        // Confused groups first (largest first, then by their first class), then the classes no one confuses.
        return clusters
            .OrderByDescending(c => c.Count > 1 ? c.Count : 0)
            .ThenBy(c => c.Min())
            .SelectMany(c => c)
            .Select(i => matrix.Labels[i])
            .ToArray();
    }

    /// <summary>Applies an explicit order: named labels first, in that order, then the rest in <paramref name="fallback"/> order.</summary>
    internal static IReadOnlyList<string> Apply(IReadOnlyList<string> explicitOrder, IReadOnlyList<string> fallback)
    {
        var present = new HashSet<string>(fallback, StringComparer.Ordinal);
        var named = explicitOrder.Where(present.Contains).Distinct(StringComparer.Ordinal).ToList();
        var seen = new HashSet<string>(named, StringComparer.Ordinal);
        return [.. named, .. fallback.Where(l => !seen.Contains(l))];
    }

    private static List<int> Join(List<int> a, List<int> b, Func<int, int, double> similarity)
    {
        var options = new[]
        {
            (Score: similarity(a[^1], b[0]), Order: a.Concat(b)),
            (Score: similarity(a[^1], b[^1]), Order: a.Concat(Enumerable.Reverse(b))),
            (Score: similarity(a[0], b[0]), Order: Enumerable.Reverse(a).Concat(b)),
            (Score: similarity(a[0], b[^1]), Order: b.Concat(a)),
        };
        var best = options[0];
        foreach (var o in options.Skip(1))
        {
            if (o.Score > best.Score)
            {
                best = o;
            }
        }

        return best.Order.ToList();
    }
}
