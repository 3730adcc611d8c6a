using System.Globalization;

namespace PokeClassifier.Training.Custom;

/// <summary>
/// Stops training when the watched metric has not improved for <see cref="Patience"/> epochs. The best value starts at +infinity
/// for a loss and -infinity for an accuracy, so the first epoch always counts as an improvement (ML.NET's early stopping starts a
/// loss at 0, so nothing ever improves on it and it always stops after <c>patience</c> epochs). An epoch improves when its value
/// beats the best by more than <see cref="MinDelta"/>.
/// </summary>
public sealed class EarlyStoppingOptions
{
    /// <summary>The metric to watch. With a validation metric and no validation set, early stopping is off.</summary>
    /// <value>The default is <see cref="TrainingMetric.ValidationLoss"/>.</value>
    public TrainingMetric Monitor { get; init; } = TrainingMetric.ValidationLoss;

    /// <summary>Epochs without improvement after which training stops.</summary>
    /// <value>The default is 3.</value>
    public int Patience { get; init; } = 3;

    /// <summary>How much the metric must beat the best value so far to count as an improvement (loss units, or accuracy 0-1).</summary>
    /// <value>The default is 0.</value>
    public double MinDelta { get; init; }

    /// <summary>
    /// Whether the weights of the best epoch are put back at the end of training (when training stopped early, or when the last
    /// epoch was not the best). Otherwise the last epoch's weights are kept.
    /// </summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool RestoreBestWeights { get; init; } = true;

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Monitor}, patience {Patience}, min delta {MinDelta}{(RestoreBestWeights ? ", restore best" : string.Empty)}");

    internal IEnumerable<string> Problems()
    {
        if (!Enum.IsDefined(Monitor))
        {
            yield return $"EarlyStopping: {nameof(Monitor)} {(int)Monitor} is not a known metric.";
        }

        if (Patience < 1)
        {
            yield return $"EarlyStopping: {nameof(Patience)} must be at least 1 (was {Patience}).";
        }

        if (double.IsNaN(MinDelta) || MinDelta < 0)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"EarlyStopping: {nameof(MinDelta)} must be 0 or more (was {MinDelta}).");
        }
    }
}
