namespace PokeClassifier.Cli;

/// <summary>A failure the tool reports as one line with a given exit code.</summary>
internal sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;

    public static CliException Usage(string message) => new(ExitCodes.Usage, message);

    public static CliException DataError(string message) => new(ExitCodes.Data, message);
}
