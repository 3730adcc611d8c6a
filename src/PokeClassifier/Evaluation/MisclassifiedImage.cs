namespace PokeClassifier.Evaluation;

/// <summary>An image the model got wrong, with how sure it was of the wrong answer and of the right one.</summary>
public sealed record MisclassifiedImage
{
    /// <summary>Gets the path (or identifier) of the image.</summary>
    public required string Path { get; init; }

    /// <summary>Gets the label the image really has.</summary>
    public required string TrueLabel { get; init; }

    /// <summary>Gets the (wrong) label the model predicted.</summary>
    public required string PredictedLabel { get; init; }

    /// <summary>Gets the model's probability for <see cref="PredictedLabel"/>: how confidently it was wrong.</summary>
    public required double PredictedProbability { get; init; }

    /// <summary>Gets the model's probability for <see cref="TrueLabel"/>.</summary>
    public required double TrueLabelProbability { get; init; }
}
