namespace PokeClassifier.Training;

/// <summary>A label with its probability.</summary>
public sealed record LabelProbability
{
    /// <summary>The class label.</summary>
    public required string Label { get; init; }

    /// <summary>Its probability, 0 to 1.</summary>
    public required float Probability { get; init; }

    /// <inheritdoc />
    public override string ToString() => $"{Label} {Probability:P1}";
}

/// <summary>The prediction for one image: the most likely label and the top-k labels with their probabilities.</summary>
public sealed record ClassPrediction
{
    /// <summary>The predicted label.</summary>
    public required string Label { get; init; }

    /// <summary>Its probability.</summary>
    public required float Probability { get; init; }

    /// <summary>The k most likely labels, most likely first.</summary>
    public required IReadOnlyList<LabelProbability> Top { get; init; }

    /// <inheritdoc />
    public override string ToString() => string.Join(", ", Top);
}
