namespace PokeClassifier.Evaluation;

/// <summary>One image of a <see cref="TopLossReport"/>: what it is, what the model said, how sure it was, and its loss.</summary>
public sealed record TopLossImage
{
    /// <summary>Gets the path (or identifier) of the image.</summary>
    public required string Path { get; init; }

    /// <summary>Gets the label the image really has.</summary>
    public required string TrueLabel { get; init; }

    /// <summary>Gets the label the model predicted (equal to <see cref="TrueLabel"/> for a correct prediction).</summary>
    public required string PredictedLabel { get; init; }

    /// <summary>Gets the model's probability for <see cref="PredictedLabel"/>.</summary>
    public required double PredictedProbability { get; init; }

    /// <summary>Gets the model's probability for <see cref="TrueLabel"/>.</summary>
    public required double TrueLabelProbability { get; init; }

    /// <summary>Gets the image's cross-entropy loss, <c>-ln(max(TrueLabelProbability, 1e-15))</c> (the log-loss of this one image).</summary>
    public double Loss => -Math.Log(Math.Max(TrueLabelProbability, 1e-15));

    /// <summary>Whether the prediction is correct.</summary>
    public bool IsCorrect => string.Equals(TrueLabel, PredictedLabel, StringComparison.Ordinal);
}
