using System.Globalization;

namespace PokeClassifier.Training.Custom;

/// <summary>
/// Averages the weights at the end of the last epochs and trains the final model with that average (stochastic weight averaging
/// over epochs, as in Izmailov et al. 2018 and PyTorch's <c>torch.optim.swa_utils</c>): the tail of a decaying schedule wanders
/// around a minimum, and the average sits nearer its centre than any one epoch, so the result depends far less on which epoch a
/// small validation set happens to favour. Parameters and floating-point buffers (batch-norm statistics) are averaged alike; with
/// batch-norm statistics frozen (<see cref="FineTuning.FineTuneOptions.UpdateBatchNormStatistics"/> off) the buffers do not move and the
/// average is exact.
/// </summary>
public sealed class WeightAveragingOptions
{
    /// <summary>
    /// Where in the run averaging starts, as a share of <see cref="TrainingOptions.Epochs"/>: the weights at the end of every epoch
    /// from epoch <c>max(1, ceil(StartFraction x Epochs))</c> on enter the average. 0 averages every epoch.
    /// </summary>
    /// <value>The default is 0.5: the second half of the run.</value>
    public double StartFraction { get; init; } = 0.5;

    /// <summary>The first epoch whose weights enter the average in a run of <paramref name="epochs"/> epochs.</summary>
    /// <param name="epochs">The run's epochs.</param>
    /// <returns>An epoch from 1 to <paramref name="epochs"/>.</returns>
    public int FirstEpoch(int epochs) => Math.Clamp((int)Math.Ceiling(StartFraction * epochs), 1, Math.Max(1, epochs));

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"weights averaged from {StartFraction:0.##} of the run");

    internal IEnumerable<string> Problems()
    {
        if (double.IsNaN(StartFraction) || StartFraction < 0 || StartFraction >= 1)
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"WeightAveraging: {nameof(StartFraction)} must be at least 0 and below 1 (was {StartFraction}).");
        }
    }
}
