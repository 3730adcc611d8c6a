using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Features;
using SkiaSharp;

namespace PokeClassifier.Tests.Features;

public sealed class FeaturizerTests
{
    private static DatasetItem[] ShapeItems(int perClass, int seed)
    {
        var root = TestImages.ShapesDataset(perClass, seed);
        return Directory.GetDirectories(root).SelectMany(d => Directory.GetFiles(d).Select(f => new DatasetItem { Path = f, Label = Path.GetFileName(d) })).Order(Comparer<DatasetItem>.Create((a, b) => string.CompareOrdinal(a.Path, b.Path))).ToArray();
    }

    [Fact]
    public void Given_the_same_image_When_featurized_by_the_library_and_by_MLNet_DnnFeaturizeImage_Then_the_features_agree()
    {
        // 224x224 opaque PNGs, so neither side resizes: decode and preprocessing must match ML.NET's exactly.
        var dir = TestImages.NewTempDir("parity");
        var rng = new Random(9);
        var paths = new List<string>();
        foreach (var shape in new[] { "circle", "square", "triangle" })
        {
            using var bmp = TestImages.Shape(shape, rng, 224);
            var p = Path.Combine(dir, shape + ".png");
            File.WriteAllBytes(p, TestImages.Encode(bmp, SKEncodedImageFormat.Png));
            paths.Add(p);
        }

        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(paths.Select(p => new PathRow { ImagePath = p }));
        var pipeline = ml.Transforms.LoadImages("ImageObject", null, "ImagePath")
            .Append(ml.Transforms.ResizeImages("ImageObject", 224, 224, "ImageObject"))
            .Append(ml.Transforms.ExtractPixels("Pixels", "ImageObject"))
            .Append(ml.Transforms.DnnFeaturizeImage("Features", m => m.ModelSelector.ResNet18(ml, m.OutputColumn, m.InputColumn), "Pixels"));
        var expected = pipeline.Fit(data).Transform(data).GetColumn<float[]>("Features").ToArray();

        using var featurizer = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { UseCache = false });
        for (var i = 0; i < paths.Count; i++)
        {
            var actual = featurizer.Featurize(paths[i]);
            Assert.Equal(512, actual.Length);
            var maxAbs = expected[i].Zip(actual, (e, a) => Math.Abs(e - a)).Max();
            var scale = expected[i].Max(Math.Abs);
            Assert.True(maxAbs <= 1e-3 * scale, $"image {i}: max |diff| {maxAbs} vs max |feature| {scale}");
        }
    }

    [Fact]
    public async Task Given_a_warm_cache_When_featurized_again_Then_no_inference_runs_and_features_are_identical()
    {
        var items = ShapeItems(4, 21);
        var cache = TestImages.NewTempDir("cache");
        using var featurizer = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { CacheDirectory = cache });
        var first = await featurizer.FeaturizeAsync(items);
        var second = await featurizer.FeaturizeAsync(items);

        Assert.Equal(items.Length, first.Computed);
        Assert.Equal(0, first.CacheHits);
        Assert.Equal(0, second.Computed);
        Assert.Equal(items.Length, second.CacheHits);
        Assert.Equal(items.Length, featurizer.Cache!.CountEntries());
        for (var i = 0; i < items.Length; i++)
        {
            Assert.Equal(first[i].ToArray(), second[i].ToArray());
        }

        featurizer.Cache.Clear();
        Assert.Equal(0, featurizer.Cache.CountEntries());
    }

    [Fact]
    public async Task Given_a_damaged_cache_entry_When_featurized_Then_it_is_recomputed_not_trusted()
    {
        var items = ShapeItems(1, 22);
        var cache = TestImages.NewTempDir("cache");
        using var featurizer = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { CacheDirectory = cache });
        var first = await featurizer.FeaturizeAsync(items);
        var entry = Directory.GetFiles(cache, "*.f32", SearchOption.AllDirectories).First();
        var bytes = await File.ReadAllBytesAsync(entry);
        bytes[^5] ^= 0xFF; // flip bits in the payload
        await File.WriteAllBytesAsync(entry, bytes);
        await File.WriteAllBytesAsync(Directory.GetFiles(cache, "*.f32", SearchOption.AllDirectories).Last(), bytes[..40]); // torn entry

        var second = await featurizer.FeaturizeAsync(items);
        Assert.Equal(2, second.Computed);
        Assert.Equal(items.Length - 2, second.CacheHits);
        for (var i = 0; i < items.Length; i++)
        {
            Assert.Equal(first[i].ToArray(), second[i].ToArray());
        }
    }

    [Fact]
    public async Task Given_a_process_killed_mid_run_When_run_again_Then_the_cache_is_intact_and_work_resumes()
    {
        var items = ShapeItems(5, 23);
        var cache = TestImages.NewTempDir("crash");
        var probe = Path.Combine(AppContext.BaseDirectory, "CacheProbe.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(probe);
        start.ArgumentList.Add(cache);
        foreach (var item in items)
        {
            start.ArgumentList.Add(item.Path);
        }

        using (var process = Process.Start(start)!)
        {
            var seen = 0;
            while (seen < 3 && await process.StandardOutput.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("featurized", StringComparison.Ordinal))
                {
                    seen++;
                }
            }

            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.True(seen >= 3, "the probe did not start featurizing: " + await process.StandardError.ReadToEndAsync());
        }

        var written = Directory.GetFiles(cache, "*.f32", SearchOption.AllDirectories).Length;
        Assert.InRange(written, 3, items.Length - 1);

        using var featurizer = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { CacheDirectory = cache });
        var resumed = await featurizer.FeaturizeAsync(items);
        Assert.Equal(written, resumed.CacheHits);
        Assert.Equal(items.Length - written, resumed.Computed);

        using var fresh = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { UseCache = false });
        var reference = await fresh.FeaturizeAsync(items);
        for (var i = 0; i < items.Length; i++)
        {
            Assert.Equal(reference[i].ToArray(), resumed[i].ToArray());
        }
    }

    [Fact]
    public async Task Given_cancellation_When_featurizing_Then_it_stops_before_the_end_and_the_cache_stays_valid()
    {
        var items = ShapeItems(15, 24);
        var cache = TestImages.NewTempDir("cancel");
        using var featurizer = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { CacheDirectory = cache });
        using var cts = new CancellationTokenSource();
        var cancelledAt = Stopwatch.StartNew();
        var progress = new SyncProgress<FeaturizationProgress>(p =>
        {
            if (p.Completed == 5 && !cts.IsCancellationRequested)
            {
                cancelledAt.Restart();
                cts.Cancel();
            }
        });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => featurizer.FeaturizeAsync(items, progress, cts.Token));
        Assert.True(cancelledAt.Elapsed < TimeSpan.FromSeconds(10), $"stopped {cancelledAt.Elapsed.TotalMilliseconds:F0} ms after cancel");
        var entries = featurizer.Cache!.CountEntries();
        Assert.InRange(entries, 1, items.Length - 1);
        Assert.Empty(Directory.GetFiles(cache, "*.tmp", SearchOption.AllDirectories));

        var resumed = await featurizer.FeaturizeAsync(items);
        Assert.Equal(entries, resumed.CacheHits);
    }

    [Fact]
    public void Given_a_spec_that_does_not_match_the_model_When_loaded_Then_the_error_names_expected_and_actual()
    {
        var wrong = BackboneSpec.ResNet18 with { OutputName = "logits" };
        var e = Assert.Throws<ModelLoadException>(() => new ImageFeaturizer(wrong));
        Assert.Contains("'logits'", e.Message, StringComparison.Ordinal);
        Assert.Contains("Pooling395_Output_0", e.Message, StringComparison.Ordinal);

        var badSize = BackboneSpec.ResNet18 with { FeatureLength = 2048 };
        var e2 = Assert.Throws<ModelLoadException>(() => new ImageFeaturizer(badSize));
        Assert.Contains("2048", e2.Message, StringComparison.Ordinal);
        Assert.Contains("512 values", e2.Message, StringComparison.Ordinal);

        var dir = TestImages.NewTempDir();
        var corrupt = Path.Combine(dir, "corrupt.onnx");
        File.WriteAllText(corrupt, "not a model");
        var e3 = Assert.Throws<ModelLoadException>(() => new ImageFeaturizer(BackboneSpec.ResNet18 with { ModelPath = corrupt }));
        Assert.Contains("corrupt.onnx", e3.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_undecodable_items_When_featurized_Then_they_are_listed_as_failed_not_dropped()
    {
        var dir = TestImages.NewTempDir();
        var good = Path.Combine(dir, "good.png");
        var bad = Path.Combine(dir, "bad.png");
        File.WriteAllBytes(good, TestImages.SolidPng(20, 20, SKColors.Green));
        File.WriteAllText(bad, "text");
        using var featurizer = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { UseCache = false });
        var set = await featurizer.FeaturizeAsync([new DatasetItem { Path = good, Label = "a" }, new DatasetItem { Path = bad, Label = "a" }]);
        Assert.Single(set.Items);
        var failed = Assert.Single(set.Failed);
        Assert.Equal(bad, failed.Path);
        Assert.Equal(SkipReason.NotAnImage, failed.Reason);
    }

    [Fact]
    public void Given_the_same_backbone_When_identity_is_computed_Then_it_changes_with_preprocessing_and_size()
    {
        var spec = BackboneSpec.ResNet18;
        var a = ImageFeaturizer.ComputeIdentity(spec);
        Assert.Equal(a, ImageFeaturizer.ComputeIdentity(spec));
        Assert.NotEqual(a, ImageFeaturizer.ComputeIdentity(spec with { Preprocessing = spec.Preprocessing with { PixelScale = 2f } }));
        Assert.NotEqual(a, ImageFeaturizer.ComputeIdentity(spec with { InputWidth = 192 }));
    }

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = string.Empty;
    }

    /// <summary>Reports synchronously on the caller's thread (unlike Progress&lt;T&gt;).</summary>
    private sealed class SyncProgress<T>(Action<T> action) : IProgress<T>
    {
        private readonly Lock _gate = new();

        public void Report(T value)
        {
            lock (_gate)
            {
                action(value);
            }
        }
    }
}
