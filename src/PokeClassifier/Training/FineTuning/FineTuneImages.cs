using System.Collections.Concurrent;
using System.Security.Cryptography;
using PokeClassifier.Data;

namespace PokeClassifier.Training;

/// <summary>
/// The images of a fine-tuning run, decoded once at the input size (RGB planes, bytes) with their labels and content hashes; images
/// that fail to decode are listed, not dropped silently. Augmentation and preprocessing work from these bytes every epoch.
/// </summary>
internal sealed class FineTuneImages
{
    private FineTuneImages(int size, DatasetItem[] items, byte[][] pixels, string[] hashes, int[] labels, SkippedFile[] skipped)
    {
        Size = size;
        Items = items;
        _pixels = pixels;
        Hashes = hashes;
        Labels = labels;
        Skipped = skipped;
    }

    /// <summary>The square size the images were decoded at.</summary>
    public int Size { get; }

    /// <summary>The images that decoded, in input order.</summary>
    public IReadOnlyList<DatasetItem> Items { get; }

    private readonly byte[][] _pixels;
    private bool _released;

    /// <summary>RGB planes [3, Size, Size] of each image, values 0..255.</summary>
    /// <exception cref="InvalidOperationException">After <see cref="ReleasePixels"/>.</exception>
    public IReadOnlyList<byte[]> Pixels => _released ? throw new InvalidOperationException("The decoded pixels were released after the frozen activations were computed.") : _pixels;

    /// <summary>Frees the decoded pixels once nothing reads them any more (cached fine-tuning, after the frozen activations are computed).</summary>
    public void ReleasePixels()
    {
        _released = true;
        Array.Clear(_pixels);
    }

    /// <summary>SHA-256 of each file's bytes (keys of the activation cache).</summary>
    public IReadOnlyList<string> Hashes { get; }

    /// <summary>The class index of each image.</summary>
    public IReadOnlyList<int> Labels { get; }

    /// <summary>The images that could not be decoded, with the reason.</summary>
    public IReadOnlyList<SkippedFile> Skipped { get; }

    public int Count => Items.Count;

    /// <summary>Decodes <paramref name="items"/> (in parallel, order kept).</summary>
    public static FineTuneImages Load(IReadOnlyList<DatasetItem> items, IReadOnlyList<string> classes, int size, int parallelism, long maxDecodePixels, CancellationToken cancellationToken)
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
                pixels[i] = ToPlanes(bitmap.GetPixelSpan(), size);
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
            keep.Select(i => pixels[i]).ToArray(),
            keep.Select(i => hashes[i]).ToArray(),
            keep.Select(i => index[items[i].Label]).ToArray(),
            failed.OrderBy(f => f.Index).Select(f => f.File).ToArray());
    }

    private static byte[] ToPlanes(ReadOnlySpan<byte> rgba, int size)
    {
        var plane = size * size;
        var planes = new byte[3 * plane];
        for (var i = 0; i < plane; i++)
        {
            planes[i] = rgba[i * 4];
            planes[plane + i] = rgba[(i * 4) + 1];
            planes[(2 * plane) + i] = rgba[(i * 4) + 2];
        }

        return planes;
    }
}
