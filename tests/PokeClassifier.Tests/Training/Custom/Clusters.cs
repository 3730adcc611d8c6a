using PokeClassifier.Training.Custom;
using PokeClassifier.Training;

namespace PokeClassifier.Tests.Training.Custom;

/// <summary>Synthetic features: Gaussian clusters, one centre per class, optionally laid out as a [C, H, W] map.</summary>
internal sealed class Clusters
{
    private Clusters(float[][] rows, int[] labels, int[] shape, int classes)
    {
        Rows = rows;
        Labels = labels;
        Shape = shape;
        ClassCount = classes;
    }

    public float[][] Rows { get; }

    public int[] Labels { get; }

    /// <summary>One example's shape (no batch dimension).</summary>
    public int[] Shape { get; }

    public int ClassCount { get; }

    public string[] Classes => Enumerable.Range(0, ClassCount).Select(c => $"class{c:D3}").ToArray();

    public string[] LabelNames => Labels.Select(l => Classes[l]).ToArray();

    public FeatureBatchSource Source() => new(Rows, Labels, Shape);

    /// <summary>The first <paramref name="count"/> rows (the rows cycle through the classes, so every class stays).</summary>
    public static Clusters Subset(Clusters c, int count) => new(c.Rows[..count], c.Labels[..count], c.Shape, c.ClassCount);

    /// <summary>
    /// <paramref name="perClass"/> rows per class; each channel of a class centre is drawn once (N(0, separation²)) and repeated over
    /// H x W, so the class survives global average pooling; each value gets N(0, 1) noise. <paramref name="flipFraction"/> of the
    /// labels are replaced by random ones (label noise).
    /// </summary>
    public static Clusters Make(int classes, int perClass, int[] shape, int seed, double separation = 3, double flipFraction = 0, int centreSeed = 1000)
    {
        var channels = shape[0];
        var spatial = shape.Skip(1).Aggregate(1, (a, b) => a * b);
        var centreRng = new Random(centreSeed);
        var centres = Enumerable.Range(0, classes).Select(_ => Enumerable.Range(0, channels).Select(_ => Gaussian(centreRng) * separation).ToArray()).ToArray();
        var rng = new Random(seed);
        var rows = new List<float[]>();
        var labels = new List<int>();
        for (var i = 0; i < perClass; i++)
        {
            for (var c = 0; c < classes; c++)
            {
                var row = new float[channels * spatial];
                for (var ch = 0; ch < channels; ch++)
                {
                    for (var s = 0; s < spatial; s++)
                    {
                        row[(ch * spatial) + s] = (float)(centres[c][ch] + Gaussian(rng));
                    }
                }

                rows.Add(row);
                labels.Add(rng.NextDouble() < flipFraction ? rng.Next(classes) : c);
            }
        }

        return new Clusters([.. rows], [.. labels], shape, classes);
    }

    private static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
