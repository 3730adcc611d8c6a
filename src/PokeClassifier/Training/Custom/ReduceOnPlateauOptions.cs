using System.Globalization;

namespace PokeClassifier.Training.Custom;

/// <summary>
/// Multiplies every parameter group's learning rate by <see cref="Factor"/> when the watched metric has not improved (by more than
/// <see cref="MinDelta"/>) for <see cref="Patience"/> epochs, on top of the <see cref="TrainingOptions.Schedule"/>. After a
/// reduction the count starts again. A reduction never takes the base rate (<see cref="TrainingOptions.LearningRate"/> times the
/// reductions so far) below <see cref="MinLearningRate"/>: it becomes <c>max(rate * Factor, MinLearningRate)</c>, as in Keras.
/// </summary>
public sealed class ReduceOnPlateauOptions
{
    /// <summary>The metric to watch. With a validation metric and no validation set, the training loss or accuracy is watched instead.</summary>
    /// <value>The default is <see cref="TrainingMetric.ValidationLoss"/>.</value>
    public TrainingMetric Monitor { get; init; } = TrainingMetric.ValidationLoss;

    /// <summary>The factor applied on each reduction, in (0, 1).</summary>
    /// <value>The default is 0.1.</value>
    public double Factor { get; init; } = 0.1;

    /// <summary>Epochs without improvement before a reduction.</summary>
    /// <value>The default is 2.</value>
    public int Patience { get; init; } = 2;

    /// <summary>How much the metric must beat the best value so far to count as an improvement.</summary>
    /// <value>The default is 0.</value>
    public double MinDelta { get; init; }

    /// <summary>The lowest base learning rate the reductions lead to.</summary>
    /// <value>The default is 0.</value>
    public double MinLearningRate { get; init; }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Monitor}, factor {Factor}, patience {Patience}, min delta {MinDelta}, min lr {MinLearningRate}");

    internal IEnumerable<string> Problems()
    {
        if (!Enum.IsDefined(Monitor))
        {
            yield return $"ReduceOnPlateau: {nameof(Monitor)} {(int)Monitor} is not a known metric.";
        }

        if (!(Factor > 0 && Factor < 1))
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"ReduceOnPlateau: {nameof(Factor)} must be in (0, 1) (was {Factor}).");
        }

        if (Patience < 1)
        {
            yield return $"ReduceOnPlateau: {nameof(Patience)} must be at least 1 (was {Patience}).";
        }

        if (double.IsNaN(MinDelta) || MinDelta < 0)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"ReduceOnPlateau: {nameof(MinDelta)} must be 0 or more (was {MinDelta}).");
        }

        if (double.IsNaN(MinLearningRate) || MinLearningRate < 0)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"ReduceOnPlateau: {nameof(MinLearningRate)} must be 0 or more (was {MinLearningRate}).");
        }
    }
}
