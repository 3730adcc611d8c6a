namespace PokeClassifier.Cli;

/// <summary>The exit codes of <c>pokeclassifier</c> (documented in docs/cli.md).</summary>
public static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;

    /// <summary>A runtime failure not covered by a more specific code (I/O error, unexpected exception).</summary>
    public const int Failure = 1;

    /// <summary>The command line is wrong: unknown command or option, missing argument, bad value, unknown backbone or head.</summary>
    public const int Usage = 2;

    /// <summary>The input data cannot be used: a missing file or folder, no images, a manifest or split problem, unreadable images.</summary>
    public const int Data = 3;

    /// <summary>A model or weights file is missing, corrupt, or belongs to another model.</summary>
    public const int Model = 4;

    /// <summary>The feature asked for is not available in this version (for example ONNX export).</summary>
    public const int NotAvailable = 5;

    /// <summary>Cancelled with Ctrl+C (128 + SIGINT); the feature cache is left consistent.</summary>
    public const int Cancelled = 130;
}
