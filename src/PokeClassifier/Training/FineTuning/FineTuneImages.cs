using System.Collections.Concurrent;
using System.Security.Cryptography;
using PokeClassifier.Data;

namespace PokeClassifier.Training.FineTuning;

/// <summary>
/// The images of a fine-tuning run, decoded at the input size (RGB planes, bytes) with their labels and content hashes; images
/// that fail to decode are listed, not dropped silently. Augmentation and preprocessing work from these bytes every epoch, so by
/// default every image is decoded once and held; a run that reads each image once or twice (the frozen pass of cached fine-tuning)
/// loads them with <c>holdPixels: false</c>, and each read decodes the file again into the caller's buffer, so the decoded images
/// never sit in memory beside the activations.
/// </summary>
internal sealed class FineTuneImages
{
    private readonly byte[][]? _pixels;
    private readonly long _maxDecodePixels;
    private bool _released;

    private FineTuneImages(int size, DatasetItem[] items, byte[][]? pixels, string[] hashes, int[] labels, SkippedFile[] skipped, long maxDecodePixels)
    {
        Size = size;
        Items = items;
        _pixels = pixels;
        Hashes = hashes;
        Labels = labels;
        Skipped = skipped;
        _maxDecodePixels = maxDecodePixels;
    }

    /// <summary>The square size the images were decoded at.</summary>
    public int Size { get; }

    /// <summary>The length of one image's planes: 3 x <see cref="Size"/> x <see cref="Size"/>.</summary>
    public int PlaneLength => 3 * Size * Size;

    /// <summary>The images that decoded, in input order.</summary>
    public IReadOnlyList<DatasetItem> Items { get; }

    /// <summary>Whether the decoded planes are held in memory (else each read decodes the file again).</summary>
    public bool HoldsPixels => _pixels is not null && !_released;

    /// <summary>
    /// Writes RGB planes [3, Size, Size] (values 0..255) of image <paramref name="index"/> into <paramref name="destination"/>:
    /// copied from memory when held, else decoded from the file again (whose content must still be the one loaded).
    /// </summary>
    /// <exception cref="InvalidOperationException">After <see cref="ReleasePixels"/>, or when the file changed since it was loaded.</exception>
    public void CopyPlanes(int index, Span<byte> destination)
    {
        if (_released)
        {
            throw new InvalidOperationException("The decoded pixels were released after the frozen activations were computed.");
        }

        if (_pixels is not null)
        {
            _pixels[index].CopyTo(destination);
            return;
        }

        var item = Items[index];
        var bytes = File.ReadAllBytes(item.Path);
        if (!string.Equals(Convert.ToHexStringLower(SHA256.HashData(bytes)), Hashes[index], StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"'{item.Path}' changed while the run was reading it.");
        }

        using var bitmap = ImageDecoder.Decode(bytes, item.Path, Size, Size, _maxDecodePixels);
        ToPlanes(bitmap.GetPixelSpan(), Size, destination);
    }

    /// <summary>Frees the decoded pixels once nothing reads them any more (cached fine-tuning, after the frozen activations are computed).</summary>
    public void ReleasePixels()
    {
        _released = true;
        if (_pixels is not null)
        {
            Array.Clear(_pixels);
        }
    }

    /// <summary>SHA-256 of each file's bytes (keys of the activation cache).</summary>
    public IReadOnlyList<string> Hashes { get; }

    /// <summary>The class index of each image.</summary>
    public IReadOnlyList<int> Labels { get; }

    /// <summary>The images that could not be decoded, with the reason.</summary>
    public IReadOnlyList<SkippedFile> Skipped { get; }

    public int Count => Items.Count;

    /// <summary>
    /// Decodes <paramref name="items"/> (in parallel, order kept), holding the planes unless <paramref name="holdPixels"/> is
    /// <see langword="false"/> (then each image is decoded only to know it decodes, and <see cref="CopyPlanes"/> decodes it again).
    /// </summary>
    public static FineTuneImages Load(
        IReadOnlyList<DatasetItem> items, IReadOnlyList<string> classes, int size, int parallelism, long maxDecodePixels, CancellationToken cancellationToken, bool holdPixels = true)
    {
        var index = classes.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
        var pixels = new byte[items.Count][];
        var hashes = new string[items.Count];
        var failed = new ConcurrentBag<(int Index, SkippedFile File)>();
        Parallel.For(0, items.Count, new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken }, i =>
        {
            var item = items[i];
            try
            {
                var bytes = File.ReadAllBytes(item.Path);
                hashes[i] = Convert.ToHexStringLower(SHA256.HashData(bytes));
                using var bitmap = ImageDecoder.Decode(bytes, item.Path, size, size, maxDecodePixels);
                if (holdPixels)
                {
                    pixels[i] = new byte[3 * size * size];
                    ToPlanes(bitmap.GetPixelSpan(), size, pixels[i]);
                }
            }
            catch (InvalidImageException e)
            {
                failed.Add((i, new SkippedFile { Path = item.Path, Label = item.Label, Reason = e.Reason, Detail = e.Message }));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                failed.Add((i, new SkippedFile { Path = item.Path, Label = item.Label, Reason = SkipReason.Unreadable, Detail = e.Message }));
            }
        });

        var bad = failed.Select(f => f.Index).ToHashSet();
        var keep = Enumerable.Range(0, items.Count).Where(i => !bad.Contains(i)).ToArray();
        var unknown = keep.Select(i => items[i].Label).Where(l => !index.ContainsKey(l)).Distinct(StringComparer.Ordinal).ToArray();
        if (unknown.Length > 0)
        {
            throw new ArgumentException($"The images carry labels that are not among the classes: {string.Join(", ", unknown.Take(10))}.", nameof(items));
        }

        return new FineTuneImages(
            size,
            keep.Select(i => items[i]).ToArray(),
            holdPixels ? keep.Select(i => pixels[i]).ToArray() : null,
            keep.Select(i => hashes[i]).ToArray(),
            keep.Select(i => index[items[i].Label]).ToArray(),
            failed.OrderBy(f => f.Index).Select(f => f.File).ToArray(),
            maxDecodePixels);
    }

    private static void ToPlanes(ReadOnlySpan<byte> rgba, int size, Span<byte> planes)
    {
        var plane = size * size;
        for (var i = 0; i < plane; i++)
        {
            planes[i] = rgba[i * 4];
            planes[plane + i] = rgba[(i * 4) + 1];
            planes[(2 * plane) + i] = rgba[(i * 4) + 2];
        }
    }
}
