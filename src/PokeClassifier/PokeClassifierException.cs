using PokeClassifier.Data;

namespace PokeClassifier;

/// <summary>Base type of the runtime failures raised by PokeClassifier (bad model files, unusable datasets, failed downloads).</summary>
public class PokeClassifierException : Exception
{
    /// <summary>Creates the exception.</summary>
    public PokeClassifierException() { }

    /// <summary>Creates the exception with a message that says what failed and what to do.</summary>
    public PokeClassifierException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    public PokeClassifierException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>A dataset cannot be used as asked: no classes, a class too small for a split, an unreadable manifest.</summary>
public sealed class DatasetException : PokeClassifierException
{
    /// <summary>Creates the exception.</summary>
    public DatasetException() { }

    /// <summary>Creates the exception with a message.</summary>
    public DatasetException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and cause.</summary>
    public DatasetException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>A model file (backbone or saved classifier) is missing, corrupt or not what was expected.</summary>
public sealed class ModelLoadException : PokeClassifierException
{
    /// <summary>Creates the exception.</summary>
    public ModelLoadException() { }

    /// <summary>Creates the exception with a message.</summary>
    public ModelLoadException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and cause.</summary>
    public ModelLoadException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>An image could not be decoded.</summary>
public sealed class InvalidImageException : PokeClassifierException
{
    /// <summary>Creates the exception.</summary>
    public InvalidImageException() { }

    /// <summary>Creates the exception with a message.</summary>
    public InvalidImageException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and cause.</summary>
    public InvalidImageException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception for a file and a reason.</summary>
    public InvalidImageException(string path, SkipReason reason, string detail)
        : base($"{path}: {detail}")
    {
        Path = path;
        Reason = reason;
    }

    /// <summary>The file that failed, when known.</summary>
    public string? Path { get; }

    /// <summary>Why it failed.</summary>
    public SkipReason Reason { get; } = SkipReason.Unreadable;
}

/// <summary>
/// A backbone's weights file could not be found, verified or downloaded. The message names the file, its checksum, the folder to put
/// it in, the URL it comes from and how to produce it.
/// </summary>
public sealed class WeightsUnavailableException : PokeClassifierException
{
    /// <summary>Creates the exception.</summary>
    public WeightsUnavailableException() { }

    /// <summary>Creates the exception with a message.</summary>
    public WeightsUnavailableException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and cause.</summary>
    public WeightsUnavailableException(string message, Exception innerException) : base(message, innerException) { }

    /// <summary>Creates the exception for a weights file, with why it is unavailable and where it belongs.</summary>
    /// <param name="source">The file.</param>
    /// <param name="cacheDirectory">The folder where the file is looked for (and downloaded to).</param>
    /// <param name="reason">What went wrong, in a sentence.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public WeightsUnavailableException(Backbones.WeightSource source, string cacheDirectory, string reason, Exception? innerException = null)
        : base(Describe(source, cacheDirectory, reason), innerException!)
    {
        ArgumentNullException.ThrowIfNull(source);
        FileName = source.FileName;
        Sha256 = source.Sha256;
        Url = source.Url;
        CacheDirectory = cacheDirectory;
    }

    /// <summary>The weights file's name, when known.</summary>
    public string? FileName { get; }

    /// <summary>Its expected SHA-256 (full or prefix), when known.</summary>
    public string? Sha256 { get; }

    /// <summary>Where it can be downloaded, when anywhere.</summary>
    public Uri? Url { get; }

    /// <summary>The folder to put it in.</summary>
    public string? CacheDirectory { get; }

    private static string Describe(Backbones.WeightSource source, string cacheDirectory, string reason)
    {
        ArgumentNullException.ThrowIfNull(source);
        var text = new System.Text.StringBuilder();
        text.Append("Weights file '").Append(source.FileName).Append("' is not available: ").Append(reason.TrimEnd('.')).AppendLine(".");
        text.Append("  Expected SHA-256: ").AppendLine(source.DescribeChecksum());
        text.Append("  Put the file in: ").Append(Path.Combine(cacheDirectory, source.FileName)).AppendLine(" (or pass its path explicitly).");
        text.Append("  Download URL: ").AppendLine(source.Url?.ToString() ?? "none (the file has to be produced locally)");
        if (!string.IsNullOrWhiteSpace(source.HowToProduce))
        {
            text.Append("  How to produce it: ").Append(source.HowToProduce.Trim());
        }

        return text.ToString().TrimEnd();
    }
}
