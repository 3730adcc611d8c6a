using System.Globalization;

namespace PokeClassifier.Training.Budget;

/// <summary>
/// How long a run may take, wall time, from loading the images to the evaluated classifier. The library measures this machine's
/// training throughput at the start and picks the recipe that fits (<see cref="BudgetPlan"/>): the frozen backbone with an
/// ML.NET head, the same with flip-averaged features, or fine-tuning at the input size and epoch count that fit
/// (<c>docs/recipes.md</c>). <see cref="Fast"/>, <see cref="Balanced"/> and <see cref="Best"/> are named budgets.
/// </summary>
public sealed record TrainingBudget
{
    /// <summary>Creates a budget.</summary>
    /// <param name="time">The wall time the whole run may take; at least 30 seconds.</param>
    public TrainingBudget(TimeSpan time)
    {
        if (time < TimeSpan.FromSeconds(30))
        {
            throw new ArgumentOutOfRangeException(nameof(time), time, "A training budget must be at least 30 seconds.");
        }

        Time = time;
    }

    /// <summary>The wall time the whole run may take.</summary>
    public TimeSpan Time { get; }

    /// <summary>5 minutes: on a 2-core CPU, the strongest frozen recipe.</summary>
    public static TrainingBudget Fast { get; } = new(TimeSpan.FromMinutes(5));

    /// <summary>20 minutes: on a 2-core CPU with a few thousand images, a short fine-tuning.</summary>
    public static TrainingBudget Balanced { get; } = new(TimeSpan.FromMinutes(20));

    /// <summary>60 minutes: on a 2-core CPU with a few thousand images, a longer fine-tuning at a larger input.</summary>
    public static TrainingBudget Best { get; } = new(TimeSpan.FromMinutes(60));

    /// <summary>A named budget (<c>fast</c>, <c>balanced</c>, <c>best</c>) or a duration (<c>90s</c>, <c>20m</c>, <c>1.5h</c>).</summary>
    /// <exception cref="FormatException">Neither a preset name nor a duration.</exception>
    public static TrainingBudget Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        var t = text.Trim().ToLowerInvariant();
        switch (t)
        {
            case "fast":
                return Fast;
            case "balanced":
                return Balanced;
            case "best":
                return Best;
        }

        var unit = t[^1];
        var scale = unit switch { 's' => 1.0, 'm' => 60.0, 'h' => 3600.0, _ => double.NaN };
        if (double.IsNaN(scale) || !double.TryParse(t[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !(value > 0))
        {
            throw new FormatException($"'{text}' is not a budget: use fast, balanced, best, or a duration such as 90s, 20m or 1.5h.");
        }

        var time = TimeSpan.FromSeconds(value * scale);
        return time < TimeSpan.FromSeconds(30) ? throw new FormatException($"'{text}' is under the smallest budget of 30 s.") : new TrainingBudget(time);
    }

    /// <inheritdoc />
    public override string ToString() => Time.TotalMinutes >= 1 ? string.Create(CultureInfo.InvariantCulture, $"{Time.TotalMinutes:0.#} min") : string.Create(CultureInfo.InvariantCulture, $"{Time.TotalSeconds:0} s");
}

/// <summary>What a <see cref="TrainingBudget"/> chose, from what it measured, and why.</summary>
public sealed record BudgetPlan
{
    /// <summary>The budget.</summary>
    public required TrainingBudget Budget { get; init; }

    /// <summary>The recipe chosen, in words (for example <c>fine-tune the last 2 blocks on cached activations with mirror views at 256 px for 8 epochs</c>).</summary>
    public required string Recipe { get; init; }

    /// <summary>Why this recipe, with the estimates that decided it.</summary>
    public required string Reason { get; init; }

    /// <summary>The head configuration it trains.</summary>
    public required HeadConfiguration Head { get; init; }

    /// <summary>Whether features are flip-averaged (train and test).</summary>
    public bool FlipAveraging { get; init; }

    /// <summary>Training images per second (forward + backward of the whole backbone at 128 x 128) measured on this machine at the start.</summary>
    public double MeasuredTrainImagesPerSecond { get; init; }

    /// <summary>The estimated wall time of the whole run.</summary>
    public TimeSpan Estimated { get; init; }

    /// <inheritdoc />
    public override string ToString() => $"{Recipe} (budget {Budget}; estimated {Estimated.TotalMinutes:0.0} min): {Reason}";
}
