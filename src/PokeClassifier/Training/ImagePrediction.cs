using System.Diagnostics.CodeAnalysis;
using PokeClassifier.Data;

namespace PokeClassifier.Training;

/// <summary>
/// One file's outcome of <see cref="TrainedClassifier.PredictAsync(IEnumerable{string}, int, IProgress{PredictionProgress}?, CancellationToken)"/>:
/// its prediction, or why it has none (a file that cannot be read or is not a usable image is a row with a reason, never an exception).
/// </summary>
public sealed record ImagePrediction
{
    /// <summary>Position of the file in the input, from 0 (results come in this order).</summary>
    public required long Index { get; init; }

    /// <summary>The file, as given (or as found in the folder).</summary>
    public required string Path { get; init; }

    /// <summary>The prediction, or <see langword="null"/> when the file was skipped (see <see cref="Skipped"/>).</summary>
    public ClassPrediction? Prediction { get; init; }

    /// <summary>Why the file has no prediction (reason and detail), or <see langword="null"/> when it has one.</summary>
    public SkippedFile? Skipped { get; init; }

    /// <summary>Whether the backbone features came from the feature cache (no inference ran for this file).</summary>
    public bool FromCache { get; init; }

    /// <summary>Whether <see cref="Prediction"/> is set.</summary>
    [MemberNotNullWhen(true, nameof(Prediction))]
    [MemberNotNullWhen(false, nameof(Skipped))]
    public bool Succeeded => Prediction is not null;

    /// <inheritdoc />
    public override string ToString() => Prediction is not null ? $"{Path}: {Prediction}" : $"{Path}: skipped, {Skipped?.Reason} ({Skipped?.Detail})";
}

/// <summary>Progress of a streamed prediction; the total is not known in advance (the input is read lazily).</summary>
/// <param name="Completed">Files handed to the caller so far (predicted or skipped).</param>
/// <param name="Skipped">Of those, files that were not usable images.</param>
/// <param name="CacheHits">Of those, files whose features came from the cache.</param>
public readonly record struct PredictionProgress(long Completed, long Skipped, long CacheHits);
