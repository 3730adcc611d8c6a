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
