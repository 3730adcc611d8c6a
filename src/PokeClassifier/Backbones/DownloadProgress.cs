using System.Globalization;

namespace PokeClassifier.Backbones;

/// <summary>Progress of a weights download.</summary>
/// <param name="FileName">The file being downloaded.</param>
/// <param name="BytesReceived">Bytes received so far in this attempt.</param>
/// <param name="TotalBytes">The size announced by the server, or <see langword="null"/> when it announced none.</param>
/// <param name="Attempt">The attempt, from 1.</param>
public readonly record struct DownloadProgress(string FileName, long BytesReceived, long? TotalBytes, int Attempt)
{
    /// <summary>Fraction done, 0 to 1; 0 while the size is unknown.</summary>
    public double Fraction => TotalBytes is > 0 ? Math.Min(1.0, (double)BytesReceived / TotalBytes.Value) : 0;

    /// <inheritdoc />
    public override string ToString() =>
        TotalBytes is { } total
            ? string.Create(CultureInfo.InvariantCulture, $"{FileName}: {BytesReceived:N0} of {total:N0} bytes (attempt {Attempt})")
            : string.Create(CultureInfo.InvariantCulture, $"{FileName}: {BytesReceived:N0} bytes (attempt {Attempt})");
}
