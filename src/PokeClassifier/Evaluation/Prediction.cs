namespace PokeClassifier.Evaluation;

/// <summary>
/// One classified image: its known label, the label the model chose, and the model's probability for every class.
/// </summary>
/// <remarks>
/// The evaluator does not require <see cref="PredictedLabel"/> to be the arg-max of <see cref="Probabilities"/>;
/// accuracy, precision, recall and F1 use the labels, while top-k accuracy and log-loss use the probabilities.
/// </remarks>
public sealed record Prediction
{
    /// <summary>Gets the path (or any identifier) of the image that was classified.</summary>
    public required string Path { get; init; }

    /// <summary>Gets the label the image really has (the ground truth).</summary>
    public required string TrueLabel { get; init; }

    /// <summary>Gets the label the model predicted.</summary>
    public required string PredictedLabel { get; init; }

    /// <summary>
    /// Gets the model's probability for each class, one per class, in the order of the class list given to
    /// <see cref="Evaluator"/>. Values must be finite and non-negative; they need not sum exactly to 1.
    /// </summary>
    public required IReadOnlyList<float> Probabilities { get; init; }

    /// <summary>Returns a one-line description such as <c>img.png: true 'cat', predicted 'dog'</c>.</summary>
    /// <returns>A readable description of the prediction.</returns>
    public override string ToString() => $"{Path}: true '{TrueLabel}', predicted '{PredictedLabel}'";
}
