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
