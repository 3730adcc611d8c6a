namespace PokeClassifier.Data;

/// <summary>Options for loading a dataset from a folder tree or a manifest.</summary>
public sealed class DatasetLoadOptions
{
    /// <summary>Whether every image is fully decoded once while loading, so that corrupt or truncated files are listed in
    /// <see cref="ImageDataset.Skipped"/> up front instead of failing later.</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool VerifyImages { get; init; } = true;

    /// <summary>Whether hidden files and folders (names starting with '.') are ignored.</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool IgnoreHidden { get; init; } = true;

    /// <summary>How many files are read and checked at once.</summary>
    /// <value>The default is <see cref="Environment.ProcessorCount"/>.</value>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>For manifests: the name of the column holding the group key, tried after <c>group</c>.</summary>
    /// <value>The default is <c>source_group</c>.</value>
    public string GroupColumn { get; init; } = "source_group";

    /// <summary>Checks every option and throws one <see cref="ArgumentException"/> listing every problem.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        if (MaxDegreeOfParallelism < 1)
        {
            errors.Add($"{nameof(MaxDegreeOfParallelism)} must be at least 1 (was {MaxDegreeOfParallelism}).");
        }

        if (string.IsNullOrWhiteSpace(GroupColumn))
        {
            errors.Add($"{nameof(GroupColumn)} must not be empty.");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid dataset load options: " + string.Join(" ", errors));
        }
    }
}
