using System.Globalization;

namespace PokeClassifier.Training.Custom;

/// <summary>
/// How the learning rate changes from epoch to epoch, as a factor of the initial rate: every parameter group's rate in epoch
/// <c>e</c> (1-based) is its initial rate times <see cref="Factor(int)"/> (times the reduce-on-plateau factor, if any).
/// Create instances with <see cref="None"/>, <see cref="Exponential"/> or <see cref="Step"/>.
/// </summary>
public abstract record LearningRateSchedule
{
    private protected LearningRateSchedule()
    {
    }

    /// <summary>A constant learning rate.</summary>
    public static ConstantSchedule None { get; } = new();

    /// <summary>The rate multiplied by <paramref name="gamma"/> after every epoch: <c>lr(e) = lr0 * gamma^(e-1)</c>.</summary>
    /// <param name="gamma">The factor per epoch, in (0, 1].</param>
    public static ExponentialSchedule Exponential(double gamma = 0.9) => new() { Gamma = gamma };

    /// <summary>The rate multiplied by <paramref name="gamma"/> every <paramref name="stepSize"/> epochs: <c>lr(e) = lr0 * gamma^floor((e-1) / stepSize)</c>.</summary>
    /// <param name="stepSize">Epochs between reductions, at least 1.</param>
    /// <param name="gamma">The factor per step, in (0, 1].</param>
    public static StepSchedule Step(int stepSize, double gamma = 0.1) => new() { StepSize = stepSize, Gamma = gamma };

    /// <summary>
    /// A linear warm-up from a small rate to the full one over the first <paramref name="warmupFraction"/> of all steps, then a
    /// cosine decay to <paramref name="finalFactor"/> of it by the last step: fastai's one-cycle shape, set per step (not per epoch).
    /// </summary>
    /// <param name="warmupFraction">The share of all steps spent warming up, in [0, 1).</param>
    /// <param name="finalFactor">The factor at the last step, in [0, 1].</param>
    public static WarmupCosineSchedule WarmupCosine(double warmupFraction = 0.1, double finalFactor = 0) => new() { WarmupFraction = warmupFraction, FinalFactor = finalFactor };

    /// <summary>The factor applied to the initial learning rate during epoch <paramref name="epoch"/> (1-based); for a per-step schedule, at the epoch's first step.</summary>
    public abstract double Factor(int epoch);

    /// <summary>The factor at one step: <paramref name="epoch"/> (1-based) and <paramref name="fraction"/> of all the run's steps done (0 to 1).</summary>
    internal virtual double Factor(int epoch, double fraction) => Factor(epoch);

    internal abstract IEnumerable<string> Problems();
}

/// <summary>A constant learning rate: the factor is 1 in every epoch.</summary>
public sealed record ConstantSchedule : LearningRateSchedule
{
    /// <inheritdoc />
    public override double Factor(int epoch) => 1;

    /// <inheritdoc />
    public override string ToString() => "constant";

    internal override IEnumerable<string> Problems() => [];
}

/// <summary>Exponential decay, reduced every epoch: <c>lr(e) = lr0 * Gamma^(e-1)</c>.</summary>
public sealed record ExponentialSchedule : LearningRateSchedule
{
    /// <summary>The factor per epoch, in (0, 1].</summary>
    /// <value>The default is 0.9.</value>
    public double Gamma { get; init; } = 0.9;

    /// <inheritdoc />
    public override double Factor(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(epoch, 1);
        return Math.Pow(Gamma, epoch - 1);
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"exponential (gamma {Gamma})");

    internal override IEnumerable<string> Problems()
    {
        if (!(Gamma > 0 && Gamma <= 1))
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"Schedule: Gamma must be in (0, 1] (was {Gamma}).");
        }
    }
}

/// <summary>Step decay: <c>lr(e) = lr0 * Gamma^floor((e-1) / StepSize)</c>.</summary>
public sealed record StepSchedule : LearningRateSchedule
{
    /// <summary>Epochs between reductions.</summary>
    /// <value>The default is 3.</value>
    public int StepSize { get; init; } = 3;

    /// <summary>The factor per step, in (0, 1].</summary>
    /// <value>The default is 0.1.</value>
    public double Gamma { get; init; } = 0.1;

    /// <inheritdoc />
    public override double Factor(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(epoch, 1);
        return Math.Pow(Gamma, (epoch - 1) / Math.Max(1, StepSize));
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"step (every {StepSize} epochs, gamma {Gamma})");

    internal override IEnumerable<string> Problems()
    {
        if (StepSize < 1)
        {
            yield return $"Schedule: StepSize must be at least 1 (was {StepSize}).";
        }

        if (!(Gamma > 0 && Gamma <= 1))
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"Schedule: Gamma must be in (0, 1] (was {Gamma}).");
        }
    }
}

/// <summary>
/// Warm-up then cosine decay, per step: the factor rises linearly from 0 to 1 over the first <see cref="WarmupFraction"/> of the
/// run's steps, then falls as <c>final + (1 - final) * (1 + cos(pi * t)) / 2</c> with <c>t</c> going from 0 to 1 over the rest.
/// Starting low lets Adam's moment estimates settle before large steps can wreck pretrained weights; ending near zero settles the
/// weights in a minimum.
/// </summary>
public sealed record WarmupCosineSchedule : LearningRateSchedule
{
    /// <summary>The share of all steps spent warming up, in [0, 1).</summary>
    /// <value>The default is 0.1.</value>
    public double WarmupFraction { get; init; } = 0.1;

    /// <summary>The factor at the last step, in [0, 1].</summary>
    /// <value>The default is 0.</value>
    public double FinalFactor { get; init; }

    /// <inheritdoc />
    public override double Factor(int epoch) => Factor(epoch, 0);

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"warm-up {WarmupFraction:P0} then cosine to {FinalFactor}");

    internal override double Factor(int epoch, double fraction)
    {
        var t = Math.Clamp(fraction, 0, 1);
        if (t < WarmupFraction)
        {
            // Never exactly 0: the first step moves the weights a little.
            return Math.Max(t / WarmupFraction, 0.01);
        }

        var rest = WarmupFraction >= 1 ? 1 : (t - WarmupFraction) / (1 - WarmupFraction);
        return FinalFactor + ((1 - FinalFactor) * 0.5 * (1 + Math.Cos(Math.PI * rest)));
    }

    internal override IEnumerable<string> Problems()
    {
        if (!(WarmupFraction >= 0 && WarmupFraction < 1))
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"{nameof(WarmupFraction)} must be in [0, 1) (was {WarmupFraction}).");
        }

        if (!(FinalFactor >= 0 && FinalFactor <= 1))
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"{nameof(FinalFactor)} must be in [0, 1] (was {FinalFactor}).");
        }
    }
}
