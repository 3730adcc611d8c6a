namespace PokeClassifier.Data;

/// <summary>How a dataset is divided into train, validation and test sets.</summary>
public sealed class SplitOptions
{
    /// <summary>Share of each class's images for training.</summary>
    /// <value>The default is 0.7.</value>
    public double TrainFraction { get; init; } = 0.7;

    /// <summary>Share of each class's images for validation (early stopping, model choice). May be 0.</summary>
    /// <value>The default is 0.1.</value>
    public double ValidationFraction { get; init; } = 0.1;

    /// <summary>Share of each class's images for the final test.</summary>
    /// <value>The default is 0.2.</value>
    public double TestFraction { get; init; } = 0.2;

    /// <summary>Seed of the shuffle: the same seed on the same dataset gives the same split.</summary>
    /// <value>The default is 42.</value>
    public int Seed { get; init; } = 42;

    /// <summary>
    /// Whether items sharing a <see cref="DatasetItem.Group"/> are kept in one split. When <see langword="null"/>, groups are
    /// respected whenever the dataset has any.
    /// </summary>
    /// <value>The default is <see langword="null"/> (automatic).</value>
    public bool? GroupAware { get; init; }

    /// <summary>
    /// What to do with a class that has too few groups to appear in every split that has a non-zero share.
    /// </summary>
    /// <value>The default is <see cref="SmallClassPolicy.Throw"/>.</value>
    public SmallClassPolicy SmallClasses { get; init; } = SmallClassPolicy.Throw;

    /// <summary>Checks every option and throws one <see cref="ArgumentException"/> listing every problem.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        foreach (var (name, value) in new[] { (nameof(TrainFraction), TrainFraction), (nameof(ValidationFraction), ValidationFraction), (nameof(TestFraction), TestFraction) })
        {
            if (double.IsNaN(value) || value < 0 || value > 1)
            {
                errors.Add($"{name} must be between 0 and 1 (was {value}).");
            }
        }

        if (TrainFraction <= 0)
        {
            errors.Add($"{nameof(TrainFraction)} must be greater than 0.");
        }

        var sum = TrainFraction + ValidationFraction + TestFraction;
        if (Math.Abs(sum - 1.0) > 1e-6)
        {
            errors.Add($"The fractions must add up to 1 (they add up to {sum}).");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid split options: " + string.Join(" ", errors));
        }
    }
}

/// <summary>The rule for classes too small for the requested split.</summary>
public enum SmallClassPolicy
{
    /// <summary>Throw a <see cref="DatasetException"/> naming every such class and how many images/groups it has.</summary>
    Throw,

    /// <summary>Put such classes entirely in the training set (they are then absent from validation and test), and list them in <see cref="DatasetSplit.TrainOnlyClasses"/>.</summary>
    TrainOnly,
}
