namespace PokeClassifier.Evaluation;

/// <summary>Macro F1 over class indices, for choosing between candidates during training (the ML.NET L2 search, the TorchSharp loop's validation).</summary>
internal static class MacroF1Score
{
    /// <summary>The mean F1 over the classes that occur among the true labels (<c>docs/metrics.md</c>).</summary>
    public static double Of(IReadOnlyList<int> truth, IReadOnlyList<int> predicted, int classCount)
    {
        var tp = new int[classCount];
        var fp = new int[classCount];
        var fn = new int[classCount];
        for (var i = 0; i < truth.Count; i++)
        {
            if (truth[i] == predicted[i])
            {
                tp[truth[i]]++;
            }
            else
            {
                fn[truth[i]]++;
                fp[predicted[i]]++;
            }
        }

        double sum = 0;
        var present = 0;
        for (var c = 0; c < classCount; c++)
        {
            if (tp[c] + fn[c] == 0)
            {
                continue;
            }

            present++;
            sum += 2.0 * tp[c] / ((2.0 * tp[c]) + fp[c] + fn[c]);
        }

        return present == 0 ? 0 : sum / present;
    }
}
