namespace PokeClassifier.Training.Custom;

/// <summary>A per-epoch quantity that early stopping and reduce-on-plateau watch.</summary>
public enum TrainingMetric
{
    /// <summary>The validation loss (lower is better). Needs a validation set.</summary>
    ValidationLoss,

    /// <summary>The validation accuracy (higher is better). Needs a validation set.</summary>
    ValidationAccuracy,

    /// <summary>The mean training loss of the epoch (lower is better).</summary>
    TrainingLoss,

    /// <summary>The training accuracy of the epoch (higher is better).</summary>
    TrainingAccuracy,

    /// <summary>The validation macro-F1 (higher is better): the mean over classes of F1, so that small classes count as much as large ones. Needs a validation set.</summary>
    ValidationMacroF1,
}
