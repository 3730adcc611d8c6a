using System.Globalization;
using System.Text;

namespace PokeClassifier.Training.LearningRate;

/// <summary>
/// What the learning-rate range test found: every step's rate, raw and smoothed loss, and two suggestions read off the smoothed
/// curve (fastai's <c>steep</c> and <c>minimum</c>). Immutable; constructible in tests. <see cref="ToSvg"/> draws loss against rate.
/// </summary>
public sealed record LearningRateFinderResult
{
    /// <summary>The rate of each recorded step (of the first parameter group), ascending.</summary>
    public required IReadOnlyList<double> Rates { get; init; }

    /// <summary>The training loss of each recorded step's batch.</summary>
    public required IReadOnlyList<double> Losses { get; init; }

    /// <summary>The smoothed loss of each recorded step (<see cref="LearningRateFinderOptions.Smoothing"/>).</summary>
    public required IReadOnlyList<double> SmoothedLosses { get; init; }

    /// <summary>
    /// The suggested rate: where the smoothed loss falls fastest against the logarithm of the rate (the steepest descent, fastai's
    /// <c>steep</c>), looked for after the first tenth of the steps and before the last five recorded ones, as fastai does.
    /// </summary>
    public required double SuggestedLearningRate { get; init; }

    /// <summary>The rate at the lowest smoothed loss (in the same window as <see cref="SuggestedLearningRate"/>).</summary>
    public required double LowestLossLearningRate { get; init; }

    /// <summary>A tenth of <see cref="LowestLossLearningRate"/> (fastai's <c>minimum</c>): a safe rate, still well before divergence.</summary>
    public double MinimumLossLearningRate => LowestLossLearningRate / 10;

    /// <summary>The rate at which the smoothed loss exceeded the divergence factor times its lowest value (the test stopped there); <see langword="null"/> if it never did.</summary>
    public double? DivergedAt { get; init; }

    /// <summary>Why the test ended (every step run, divergence, a non-finite loss).</summary>
    /// <value>The default is empty.</value>
    public string StopReason { get; init; } = string.Empty;

    /// <summary>Wall-clock seconds of the test.</summary>
    public double Seconds { get; init; }

    /// <summary>The curve as a standalone SVG document: smoothed (and raw) loss against the rate on a log axis, with both suggestions marked.</summary>
    /// <param name="width">Width in pixels.</param>
    /// <param name="height">Height in pixels.</param>
    public string ToSvg(int width = 720, int height = 420)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 100);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 100);
        return Reporting.Charts.LearningRateSvg(this, width, height, document: true);
    }

    /// <summary>A short table: the suggestions, the divergence point and a sample of the curve.</summary>
    public string ToTable()
    {
        var b = new StringBuilder();
        b.AppendLine(CultureInfo.InvariantCulture, $"Suggested learning rate (steepest descent): {Rate(SuggestedLearningRate)}");
        b.AppendLine(CultureInfo.InvariantCulture, $"Lowest loss at {Rate(LowestLossLearningRate)}; a tenth of it: {Rate(MinimumLossLearningRate)}");
        b.AppendLine(CultureInfo.InvariantCulture, $"{Rates.Count} step(s) in {Seconds:0.0} s; {StopReason}");
        var every = Math.Max(1, Rates.Count / 10);
        var rows = Enumerable.Range(0, Rates.Count).Where(i => i % every == 0 || i == Rates.Count - 1)
            .Select(i => new[] { Rate(Rates[i]), Evaluation.TextTable.Number(Losses[i]), Evaluation.TextTable.Number(SmoothedLosses[i]) }).ToArray();
        Evaluation.TextTable.Append(b, ["Rate", "Loss", "Smoothed"], rows, alignment: "RRR");
        return b.ToString();
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"suggested learning rate {Rate(SuggestedLearningRate)} (lowest loss at {Rate(LowestLossLearningRate)}; {Rates.Count} steps{(DivergedAt is { } d ? $", diverged at {Rate(d)}" : string.Empty)})");

    /// <summary>The rate in short scientific notation (<c>3.16e-03</c>).</summary>
    internal static string Rate(double rate) => rate.ToString("0.00e+00", CultureInfo.InvariantCulture);

    /// <summary>Builds the result from the recorded curve, computing both suggestions.</summary>
    internal static LearningRateFinderResult From(IReadOnlyList<double> rates, IReadOnlyList<double> losses, IReadOnlyList<double> smoothed, int steps, double? divergedAt, string reason, double seconds)
    {
        if (rates.Count == 0)
        {
            throw new ArgumentException("The learning-rate finder recorded no step.", nameof(rates));
        }

        // fastai leaves out the first tenth of the steps (the loss barely moves) and the last five (the blow-up) when it suggests.
        var from = steps / 10;
        var to = rates.Count - 5;
        if (to - from < 2)
        {
            (from, to) = (0, rates.Count);
        }

        var steepest = from;
        if (to - from >= 2)
        {
            var best = double.PositiveInfinity;
            for (var i = from; i < to - 1; i++)
            {
                var slope = (smoothed[i + 1] - smoothed[i]) / (Math.Log(rates[i + 1]) - Math.Log(rates[i]));
                if (slope < best)
                {
                    (best, steepest) = (slope, i);
                }
            }
        }

        var lowest = from;
        for (var i = from; i < to; i++)
        {
            if (smoothed[i] < smoothed[lowest])
            {
                lowest = i;
            }
        }

        return new LearningRateFinderResult
        {
            Rates = rates.ToArray(),
            Losses = losses.ToArray(),
            SmoothedLosses = smoothed.ToArray(),
            SuggestedLearningRate = rates[steepest],
            LowestLossLearningRate = rates[lowest],
            DivergedAt = divergedAt,
            StopReason = reason,
            Seconds = seconds,
        };
    }
}
