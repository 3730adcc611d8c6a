namespace PokeClassifier.Evaluation;

/// <summary>Precision, recall and F1 of one class, with the counts they come from.</summary>
/// <remarks>See <c>docs/metrics.md</c> for the definitions and the zero-division rules.</remarks>
public sealed record ClassMetrics
{
    /// <summary>Gets the class label.</summary>
    public required string Label { get; init; }

    /// <summary>
    /// Gets the precision, TP / (TP + FP): of the images predicted as this class, the share that really are.
    /// A class that was never predicted has precision 0.
    /// </summary>
    public required double Precision { get; init; }

    /// <summary>
    /// Gets the recall, TP / (TP + FN): of the images that really are this class, the share predicted as it.
    /// A class with no true images (support 0) has recall 0.
    /// </summary>
    public required double Recall { get; init; }

    /// <summary>Gets the F1 score, 2PR / (P + R), or 0 when P + R is 0.</summary>
    public required double F1 { get; init; }

    /// <summary>Gets the support: the number of images whose true label is this class.</summary>
    public required int Support { get; init; }

    /// <summary>Gets the number of images the model predicted as this class.</summary>
    public required int PredictedCount { get; init; }
}
