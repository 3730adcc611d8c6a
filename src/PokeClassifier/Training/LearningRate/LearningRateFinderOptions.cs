using System.Globalization;

namespace PokeClassifier.Training.LearningRate;

/// <summary>
/// The learning-rate range test (Leslie Smith's; fastai's <c>lr_find</c>): training steps with a rate that grows exponentially from
/// <see cref="StartLearningRate"/> to <see cref="EndLearningRate"/> over <see cref="Steps"/> batches, recording the smoothed loss, until
/// the loss diverges. The model's weights are put back afterwards. Validated all at once by <see cref="Validate"/>.
/// </summary>
public sealed record LearningRateFinderOptions
{
    /// <summary>The rate of the first step (of the first parameter group; other groups keep their ratio to it).</summary>
    /// <value>The default is 1e-7.</value>
    public double StartLearningRate { get; init; } = 1e-7;

    /// <summary>The rate of the last step.</summary>
    /// <value>The default is 10.</value>
    public double EndLearningRate { get; init; } = 10;

    /// <summary>
    /// The number of steps (batches); step <c>i</c> (0-based) trains at <c>Start * (End / Start)^(i / (Steps - 1))</c>. The training set
    /// is passed over as many times as the steps need, reshuffled each time.
    /// </summary>
    /// <value>The default is 100.</value>
    public int Steps { get; init; } = 100;

    /// <summary>
    /// The test stops once the smoothed loss exceeds this multiple of the lowest smoothed loss so far (fastai's <c>stop_div</c>);
    /// <see langword="null"/> runs every step.
    /// </summary>
    /// <value>The default is 4.</value>
    public double? DivergenceFactor { get; init; } = 4;

    /// <summary>
    /// The weight of the past in the loss's exponential moving average (debiased as in Adam): <c>avg = s * avg + (1 - s) * loss</c>,
    /// smoothed loss <c>avg / (1 - s^(i + 1))</c>. 0 records the raw losses.
    /// </summary>
    /// <value>The default is 0.98.</value>
    public double Smoothing { get; init; } = 0.98;

    /// <summary>Checks every option and throws one <see cref="ArgumentException"/> listing every problem.</summary>
    public void Validate()
    {
        var problems = Problems();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid learning-rate finder options: " + string.Join(" ", problems));
        }
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{StartLearningRate:0.###e+0} to {EndLearningRate:0.###e+0} in {Steps} steps, smoothing {Smoothing}, {(DivergenceFactor is { } f ? $"stop at {f}x the lowest loss" : "no early stop")}");

    internal List<string> Problems()
    {
        var errors = new List<string>();
        if (!(StartLearningRate > 0) || double.IsInfinity(StartLearningRate))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{nameof(StartLearningRate)} must be a positive number (was {StartLearningRate})."));
        }

        if (!(EndLearningRate > 0) || double.IsInfinity(EndLearningRate))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{nameof(EndLearningRate)} must be a positive number (was {EndLearningRate})."));
        }
        else if (EndLearningRate <= StartLearningRate)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{nameof(EndLearningRate)} ({EndLearningRate}) must be greater than {nameof(StartLearningRate)} ({StartLearningRate})."));
        }

        if (Steps is < 10 or > 100_000)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{nameof(Steps)} must be between 10 and 100000 (was {Steps})."));
        }

        if (DivergenceFactor is { } factor && !(factor > 1 && !double.IsInfinity(factor)))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{nameof(DivergenceFactor)} must be greater than 1, or null to run every step (was {factor})."));
        }

        if (!(Smoothing >= 0 && Smoothing < 1))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{nameof(Smoothing)} must be at least 0 and below 1 (was {Smoothing})."));
        }

        return errors;
    }
}
