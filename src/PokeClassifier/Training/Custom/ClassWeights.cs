using System.Globalization;

namespace PokeClassifier.Training.Custom;

/// <summary>How the classes are weighted in <see cref="ClassWeights"/>.</summary>
public enum ClassWeighting
{
    /// <summary>Every example counts the same.</summary>
    None,

    /// <summary>Class <c>c</c> weighs <c>n / (k * n_c)</c>: n training examples, k classes present, n_c examples of <c>c</c>.</summary>
    Balanced,

    /// <summary>Weights given per class label; classes not named weigh 1.</summary>
    Explicit,
}

/// <summary>
/// Per-class weights of the training loss: the loss of an example is multiplied by its class's weight and the batch loss is the
/// weighted mean (sum of weighted losses over the sum of the weights). Validation losses are not weighted.
/// </summary>
public sealed class ClassWeights
{
    private ClassWeights(ClassWeighting kind, IReadOnlyDictionary<string, double> weights)
    {
        Kind = kind;
        Weights = weights;
    }

    /// <summary>Every example counts the same.</summary>
    public static ClassWeights None { get; } = new(ClassWeighting.None, new Dictionary<string, double>());

    /// <summary>Weights inversely proportional to class frequency in the training set (scikit-learn's "balanced").</summary>
    public static ClassWeights Balanced { get; } = new(ClassWeighting.Balanced, new Dictionary<string, double>());

    /// <summary>How the weights are chosen.</summary>
    public ClassWeighting Kind { get; }

    /// <summary>The explicit weights by class label (empty unless <see cref="Kind"/> is <see cref="ClassWeighting.Explicit"/>).</summary>
    public IReadOnlyDictionary<string, double> Weights { get; }

    /// <summary>Explicit weights by class label; classes not named weigh 1.</summary>
    public static ClassWeights Explicit(IReadOnlyDictionary<string, double> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        return new(ClassWeighting.Explicit, new Dictionary<string, double>(weights, StringComparer.Ordinal));
    }

    /// <inheritdoc />
    public override string ToString() => Kind == ClassWeighting.Explicit
        ? string.Join(", ", Weights.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key}={kv.Value}")))
        : Kind.ToString();

    /// <summary>The weight of each class (in <paramref name="classes"/> order) given the training labels as class indexes.</summary>
    /// <exception cref="ArgumentException">Explicit weights name a class that is not among <paramref name="classes"/>.</exception>
    internal float[] Resolve(IReadOnlyList<string> classes, IReadOnlyList<int> trainingLabels)
    {
        var weights = new float[classes.Count];
        Array.Fill(weights, 1f);
        switch (Kind)
        {
            case ClassWeighting.Balanced:
                var counts = new int[classes.Count];
                foreach (var label in trainingLabels)
                {
                    counts[label]++;
                }

                var present = counts.Count(c => c > 0);
                for (var c = 0; c < classes.Count; c++)
                {
                    weights[c] = counts[c] == 0 ? 1f : (float)((double)trainingLabels.Count / (present * counts[c]));
                }

                break;
            case ClassWeighting.Explicit:
                var unknown = Weights.Keys.Where(k => !classes.Contains(k, StringComparer.Ordinal)).ToArray();
                if (unknown.Length > 0)
                {
                    throw new ArgumentException($"Class weights name classes the training set does not have: {string.Join(", ", unknown.Take(10))}.");
                }

                for (var c = 0; c < classes.Count; c++)
                {
                    if (Weights.TryGetValue(classes[c], out var w))
                    {
                        weights[c] = (float)w;
                    }
                }

                break;
        }

        return weights;
    }

    internal IEnumerable<string> Problems() => Weights
        .Where(kv => !double.IsFinite(kv.Value) || kv.Value <= 0)
        .Select(kv => string.Create(CultureInfo.InvariantCulture, $"ClassWeights: the weight of '{kv.Key}' must be a positive number (was {kv.Value})."));
}
