namespace PokeClassifier.Data.DefaultDataset;

/// <summary>
/// Picks distinct frames of an animation by farthest-point sampling over frame signatures (grey thumbnails), the
/// <c>select_frames</c> algorithm of <c>tools/build-dataset.sh</c>.
/// </summary>
internal static class FrameSelector
{
    /// <summary>
    /// Starts at frame 0, then repeatedly takes the frame farthest (mean absolute difference) from every frame taken so far,
    /// until <paramref name="maxFrames"/> are taken or the farthest one is closer than <paramref name="threshold"/>
    /// (a near-duplicate). Ties go to the lowest index.
    /// </summary>
    /// <returns>The chosen frame indices, ascending.</returns>
    public static int[] Select(IReadOnlyList<byte[]> signatures, int maxFrames, double threshold)
    {
        ArgumentNullException.ThrowIfNull(signatures);
        ArgumentOutOfRangeException.ThrowIfZero(signatures.Count);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFrames, 1);
        var n = signatures.Count;
        var taken = new bool[n];
        var nearest = new double[n];
        taken[0] = true;
        for (var j = 0; j < n; j++)
        {
            nearest[j] = Distance(signatures[j], signatures[0]);
        }

        var count = 1;
        while (count < maxFrames)
        {
            var best = -1;
            var bestDistance = -1.0;
            for (var j = 0; j < n; j++)
            {
                if (!taken[j] && nearest[j] > bestDistance)
                {
                    bestDistance = nearest[j];
                    best = j;
                }
            }

            if (best < 0 || bestDistance < threshold)
            {
                break;
            }

            taken[best] = true;
            count++;
            for (var j = 0; j < n; j++)
            {
                if (!taken[j])
                {
                    nearest[j] = Math.Min(nearest[j], Distance(signatures[j], signatures[best]));
                }
            }
        }

        var chosen = new int[count];
        for (int j = 0, k = 0; j < n; j++)
        {
            if (taken[j])
            {
                chosen[k++] = j;
            }
        }

        return chosen;
    }

    /// <summary>The mean absolute difference of two equally long signatures, from 0 to 255.</summary>
    public static double Distance(byte[] a, byte[] b)
    {
        if (a.Length != b.Length)
        {
            throw new ArgumentException($"Signatures differ in length ({a.Length} and {b.Length}).", nameof(b));
        }

        if (a.Length == 0)
        {
            return 0;
        }

        long sum = 0;
        for (var i = 0; i < a.Length; i++)
        {
            sum += Math.Abs(a[i] - b[i]);
        }

        return (double)sum / a.Length;
    }
}
