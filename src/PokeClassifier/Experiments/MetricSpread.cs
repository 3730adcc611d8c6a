using System.Globalization;

namespace PokeClassifier.Experiments;

/// <summary>The mean and the sample standard deviation (n - 1 in the denominator) of a metric over the folds of a k-fold run.</summary>
public sealed record MetricSpread
{
    /// <summary>The mean over folds.</summary>
    public required double Mean { get; init; }

    /// <summary>The sample standard deviation over folds (0 for a single value).</summary>
    public required double StandardDeviation { get; init; }

    /// <summary>Computes the spread of <paramref name="values"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="values"/> is empty.</exception>
    public static MetricSpread Of(IEnumerable<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var v = values.ToArray();
        if (v.Length == 0)
        {
            throw new ArgumentException("A spread needs at least one value.", nameof(values));
        }

        var mean = v.Average();
        var sd = v.Length < 2 ? 0 : Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1));
        return new MetricSpread { Mean = mean, StandardDeviation = sd };
    }

    /// <summary>Formats as <c>0.8123 ± 0.0100</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Mean:0.0000} ± {StandardDeviation:0.0000}");
}

/// <summary>Per-fold metrics of a configuration summarised as mean and spread (k-fold runs only).</summary>
public sealed record CrossValidationSummary
{
    /// <summary>The number of folds.</summary>
    public required int Folds { get; init; }

    /// <summary>Accuracy over folds.</summary>
    public required MetricSpread Accuracy { get; init; }

    /// <summary>Macro precision over folds.</summary>
    public required MetricSpread MacroPrecision { get; init; }

    /// <summary>Macro recall over folds.</summary>
    public required MetricSpread MacroRecall { get; init; }

    /// <summary>Macro F1 over folds.</summary>
    public required MetricSpread MacroF1 { get; init; }

    /// <summary>Top-5 accuracy over folds, when there are more than 5 classes.</summary>
    public MetricSpread? Top5Accuracy { get; init; }
}
