namespace PokeClassifier.Training;

/// <summary>The ML.NET multiclass trainer used as the classification head on top of backbone features.</summary>
public enum MLNetTrainer
{
    /// <summary>Multinomial logistic regression trained with L-BFGS (<c>LbfgsMaximumEntropy</c>). Accurate and quick on a few thousand images.</summary>
    LbfgsMaximumEntropy,

    /// <summary>Multinomial logistic regression trained with SDCA (<c>SdcaMaximumEntropy</c>). Scales to more rows.</summary>
    SdcaMaximumEntropy,

    /// <summary>Gradient-boosted trees (<c>LightGbm</c>). Slower on wide features; rarely better on CNN embeddings.</summary>
    LightGbm,
}

/// <summary>Options of the ML.NET transfer path.</summary>
public sealed class MLNetHeadOptions
{
    /// <summary>The trainer.</summary>
    /// <value>The default is <see cref="MLNetTrainer.LbfgsMaximumEntropy"/>.</value>
    public MLNetTrainer Trainer { get; init; } = MLNetTrainer.LbfgsMaximumEntropy;

    /// <summary>L2 regularisation weight of the linear trainers (ignored by LightGbm).</summary>
    /// <value>The default is 1.0.</value>
    public float L2Regularization { get; init; } = 1f;

    /// <summary>
    /// Whether the L2 weight of a linear trainer is chosen on a validation split instead of taken from <see cref="L2Regularization"/>:
    /// a stratified fifth of the training rows is held out, each of <see cref="L2Candidates"/> is fitted on the rest and scored by
    /// macro-F1, and the best is refitted on every row. Costs one fit per candidate, on cached features (seconds).
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool ChooseL2OnValidation { get; init; }

    /// <summary>The L2 weights <see cref="ChooseL2OnValidation"/> tries.</summary>
    /// <value>The default is 0.3, 1, 3, 10 and 30.</value>
    public IReadOnlyList<float> L2Candidates { get; init; } = [0.3f, 1f, 3f, 10f, 30f];

    /// <summary>Maximum number of passes / iterations of the linear trainers, or boosting rounds of LightGbm.</summary>
    /// <value>The default is 100.</value>
    public int MaximumIterations { get; init; } = 100;

    /// <summary>Checks every option and throws one <see cref="ArgumentException"/> listing every problem.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        if (!Enum.IsDefined(Trainer))
        {
            errors.Add($"{nameof(Trainer)} {(int)Trainer} is not a known trainer.");
        }

        if (L2Regularization < 0 || float.IsNaN(L2Regularization))
        {
            errors.Add($"{nameof(L2Regularization)} must be 0 or more (was {L2Regularization}).");
        }

        if (ChooseL2OnValidation && (L2Candidates is null || L2Candidates.Count == 0 || L2Candidates.Any(c => !(c >= 0) || float.IsInfinity(c))))
        {
            errors.Add($"{nameof(L2Candidates)} must hold at least one weight of 0 or more when {nameof(ChooseL2OnValidation)} is on.");
        }

        if (MaximumIterations < 1)
        {
            errors.Add($"{nameof(MaximumIterations)} must be at least 1 (was {MaximumIterations}).");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid ML.NET head options: " + string.Join(" ", errors));
        }
    }
}
