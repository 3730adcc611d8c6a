namespace PokeClassifier.Evaluation;

/// <summary>
/// A directed pair of classes the model confuses: images of <see cref="TrueLabel"/> taken for
/// <see cref="PredictedLabel"/>, <see cref="Count"/> times. The reverse direction is a separate pair.
/// </summary>
public sealed record ConfusedPair
{
    /// <summary>Gets the label the images really have.</summary>
    public required string TrueLabel { get; init; }

    /// <summary>Gets the label the model wrongly gave them.</summary>
    public required string PredictedLabel { get; init; }

    /// <summary>Gets how many images of <see cref="TrueLabel"/> were predicted as <see cref="PredictedLabel"/>.</summary>
    public required int Count { get; init; }
}
