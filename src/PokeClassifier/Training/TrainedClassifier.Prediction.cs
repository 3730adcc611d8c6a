using System.Runtime.CompilerServices;
using PokeClassifier.Data;

namespace PokeClassifier.Training;

public sealed partial class TrainedClassifier
{
    /// <summary>
    /// Predicts the labels of many image files as a stream: the parallel decode ∥ inference pipeline of the featurizer, the feature
    /// cache read before decoding and written after inference, results handed out <b>in input order</b> as soon as each is ready.
    /// Memory does not grow with the number of files: <paramref name="imagePaths"/> is read lazily, and at most
    /// 4 x <see cref="Features.FeaturizerOptions.Parallelism"/> files are between the input and the caller at any time, so a folder of
    /// 50,000 images costs what a folder of 50 does; a caller that stops reading pauses the input.
    /// A file that cannot be read, is empty, a folder, or not a usable image comes out as a row with <see cref="ImagePrediction.Skipped"/>
    /// set (reason and detail); it never ends the run.
    /// </summary>
    /// <remarks>
    /// Thread-safe: one classifier may run several <c>PredictAsync</c> and <see cref="Predict(string, int)"/> calls at once from
    /// different threads; each gets exactly the answers it would get alone (ONNX Runtime sessions are pooled, the head is read-only).
    /// Validation happens at the call, not at the first <c>MoveNextAsync</c>.
    /// </remarks>
    /// <param name="imagePaths">The files, in the order results should come; read lazily (a lazy directory walk is fine).</param>
    /// <param name="topK">How many labels each prediction lists (at most the number of classes).</param>
    /// <param name="progress">Reports after each result.</param>
    /// <param name="cancellationToken">Stops the run: the enumeration throws <see cref="OperationCanceledException"/>; cache entries written so far stay valid.</param>
    /// <exception cref="ArgumentNullException"><paramref name="imagePaths"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="topK"/> is less than 1.</exception>
    public IAsyncEnumerable<ImagePrediction> PredictAsync(IEnumerable<string> imagePaths, int topK = 5, IProgress<PredictionProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(imagePaths);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(topK);
        return Stream(imagePaths, topK, progress, cancellationToken);
    }

    /// <summary>
    /// Predicts every image file under <paramref name="folder"/> (searched recursively, in ordinal path order per folder; hidden
    /// entries and sidecar files — <c>.csv .tsv .txt .md .json</c> — left out; symbolic links to folders not followed), as a stream
    /// with the guarantees of <see cref="PredictAsync(IEnumerable{string}, int, IProgress{PredictionProgress}?, CancellationToken)"/>.
    /// A sub-folder that cannot be listed comes out as a skipped row. A path to a single file predicts that file.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">Neither a folder nor a file exists at <paramref name="folder"/>.</exception>
    public IAsyncEnumerable<ImagePrediction> PredictAsync(string folder, int topK = 5, IProgress<PredictionProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(topK);
        if (File.Exists(folder))
        {
            return Stream([folder], topK, progress, cancellationToken);
        }

        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"Folder '{folder}' does not exist.");
        }

        return Stream(ImageFiles.Walk(folder), topK, progress, cancellationToken);
    }

    private async IAsyncEnumerable<ImagePrediction> Stream(IEnumerable<string> paths, int topK, IProgress<PredictionProgress>? progress, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        long completed = 0, skipped = 0, hits = 0;
        await foreach (var image in _featurizer.FeaturizeStreamAsync(paths, features => Top(_head.Score([features])[0], topK), cancellationToken).ConfigureAwait(false))
        {
            completed++;
            skipped += image.Skipped is null ? 0 : 1;
            hits += image.FromCache ? 1 : 0;
            var result = new ImagePrediction
            {
                Index = image.Index,
                Path = image.Path,
                Prediction = image.Value,
                Skipped = image.Skipped,
                FromCache = image.FromCache,
            };
            progress?.Report(new PredictionProgress(completed, skipped, hits));
            yield return result;
        }
    }

    private ClassPrediction Top(float[] scores, int topK)
    {
        var top = scores.Select((p, i) => (Index: i, Probability: p))
            .OrderByDescending(x => x.Probability).ThenBy(x => x.Index)
            .Take(Math.Min(topK, Classes.Count))
            .Select(x => new LabelProbability { Label = Classes[x.Index], Probability = x.Probability })
            .ToArray();
        return new ClassPrediction { Label = top[0].Label, Probability = top[0].Probability, Top = top };
    }
}

/// <summary>The lazy folder walk of <see cref="TrainedClassifier.PredictAsync(string, int, IProgress{PredictionProgress}?, CancellationToken)"/>.</summary>
internal static class ImageFiles
{
    /// <summary>Files under <paramref name="root"/>, depth first, ordinal order within a folder; folders that cannot be listed are yielded as themselves (they come out as skipped rows).</summary>
    public static IEnumerable<string> Walk(string root)
    {
        var pending = new Stack<string>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            var dir = pending.Pop();
            string[] files, dirs;
            try
            {
                var options = new EnumerationOptions { AttributesToSkip = FileAttributes.Hidden, IgnoreInaccessible = false, RecurseSubdirectories = false };
                files = Directory.EnumerateFiles(dir, "*", options).Where(f => !Path.GetFileName(f).StartsWith('.') && !IsSidecar(f)).Order(StringComparer.Ordinal).ToArray();
                dirs = Directory.EnumerateDirectories(dir, "*", options)
                    .Where(d => !Path.GetFileName(d).StartsWith('.') && !new DirectoryInfo(d).Attributes.HasFlag(FileAttributes.ReparsePoint))
                    .Order(StringComparer.Ordinal).ToArray();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                files = [dir];
                dirs = [];
            }

            foreach (var file in files)
            {
                yield return file;
            }

            for (var i = dirs.Length - 1; i >= 0; i--)
            {
                pending.Push(dirs[i]);
            }
        }
    }

    private static bool IsSidecar(string file) =>
        System.IO.Path.GetExtension(file).ToLowerInvariant() is ".csv" or ".tsv" or ".txt" or ".md" or ".json";
}
