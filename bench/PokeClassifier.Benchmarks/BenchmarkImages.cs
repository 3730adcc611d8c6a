using System.Security.Cryptography;
using PokeClassifier.Data;
using SkiaSharp;

namespace PokeClassifier.Benchmarks;

/// <summary>Picks the benchmark's images deterministically, or generates them when no dataset is at hand.</summary>
internal static class BenchmarkImages
{
    internal const string DefaultDataset = "/work/shared/datasets/pokeapi-gen1";

    /// <summary>The folder holding the shared datasets (kaggle-visible, pokeapi-gen1, pokeapi-gen1-splits).</summary>
    internal const string SharedRoot = "/work/shared/datasets";

    private static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"];

    /// <summary>
    /// Takes <paramref name="count"/> images spread evenly over the dataset: files in manifest order (or ordinal path order without a
    /// manifest) visited with a stride, so every k-th file comes first, then the files after those. Exact duplicates are skipped,
    /// so each picked file costs one inference in every pipeline (the library's cache would otherwise serve a repeat for free).
    /// </summary>
    public static IReadOnlyList<DatasetItem> Select(string dataset, int count)
    {
        var files = ListFiles(dataset);
        if (files.Count < count)
        {
            throw new InvalidOperationException($"The dataset '{dataset}' has {files.Count} images; {count} were asked for.");
        }

        var stride = Math.Max(1, files.Count / count);
        var order = Enumerable.Range(0, files.Count).OrderBy(i => i % stride).ThenBy(i => i / stride);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var picked = new List<DatasetItem>(count);
        foreach (var i in order)
        {
            var path = files[i];
            var hash = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
            if (seen.Add(hash))
            {
                picked.Add(new DatasetItem { Path = path, Label = Path.GetFileName(Path.GetDirectoryName(path)) ?? "none" });
                if (picked.Count == count)
                {
                    return picked;
                }
            }
        }

        throw new InvalidOperationException($"The dataset '{dataset}' has only {picked.Count} distinct images; {count} were asked for.");
    }

    /// <summary>Writes <paramref name="count"/> distinct 96 x 96 PNG sprites (seeded shapes on transparency) into <paramref name="folder"/>.</summary>
    public static void Generate(string folder, int count)
    {
        var random = new Random(20260101);
        for (var i = 0; i < count; i++)
        {
            var classFolder = Path.Combine(folder, $"class{i % 10}");
            Directory.CreateDirectory(classFolder);
            using var bitmap = new SKBitmap(new SKImageInfo(96, 96, SKColorType.Rgba8888, SKAlphaType.Premul));
            using (var canvas = new SKCanvas(bitmap))
            {
                canvas.Clear(SKColors.Transparent);
                for (var s = 0; s < 6; s++)
                {
                    using var paint = new SKPaint
                    {
                        Color = new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)),
                        IsAntialias = true,
                    };
                    canvas.DrawCircle(random.Next(96), random.Next(96), 8 + random.Next(24), paint);
                }
            }

            using var image = SKImage.FromBitmap(bitmap);
            using var data = image.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine(classFolder, $"img{i:D5}.png"), data.ToArray());
        }
    }

    private static List<string> ListFiles(string dataset)
    {
        var manifest = Path.Combine(dataset, "manifest.csv");
        if (File.Exists(manifest))
        {
            // The first column is the path relative to the dataset folder; the paths used here never contain commas.
            return File.ReadLines(manifest).Skip(1)
                .Select(line => line.Split(',')[0])
                .Where(p => p.Length > 0)
                .Select(p => Path.Combine(dataset, p))
                .Where(File.Exists)
                .ToList();
        }

        return Directory.EnumerateFiles(dataset, "*", SearchOption.AllDirectories)
            .Where(p => ImageExtensions.Contains(Path.GetExtension(p).ToLowerInvariant()))
            .Order(StringComparer.Ordinal)
            .ToList();
    }
}
