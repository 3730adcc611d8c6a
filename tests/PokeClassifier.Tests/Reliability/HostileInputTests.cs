using PokeClassifier.Data;

namespace PokeClassifier.Tests.Reliability;

/// <summary>Inputs that used to lose data silently: the same picture under two names, a manifest quote left open, unsupported formats.</summary>
public sealed class HostileInputTests
{
    [Fact]
    public async Task Given_every_picture_under_two_file_names_When_split_or_k_folded_Then_no_test_image_has_a_byte_identical_copy_in_training()
    {
        var root = TestImages.NewTempDir("dupes");
        foreach (var (shape, seed) in new[] { ("circle", 31), ("square", 32) })
        {
            foreach (var path in Faults.DrawImages(Path.Combine(root, shape), 16, seed, shape))
            {
                File.Copy(path, Path.Combine(Path.GetDirectoryName(path)!, "copy of " + Path.GetFileName(path)));
            }
        }

        var dataset = await ImageDataset.FromFolderAsync(root);
        Assert.Equal(64, dataset.Items.Count);
        Assert.Equal(32, dataset.Duplicates.Count);

        static void NoLeak(DatasetSplit split)
        {
            var train = split.Train.Concat(split.Validation).Select(i => i.ContentHash).ToHashSet(StringComparer.Ordinal);
            Assert.NotEmpty(split.Test);
            Assert.DoesNotContain(split.Test, i => train.Contains(i.ContentHash));
            Assert.DoesNotContain(split.Validation, i => split.Train.Any(t => t.ContentHash == i.ContentHash));
        }

        NoLeak(dataset.Split(new SplitOptions { TrainFraction = 0.6, ValidationFraction = 0.2, TestFraction = 0.2, Seed = 3 }));
        foreach (var fold in dataset.KFold(4, seed: 3))
        {
            NoLeak(fold);
        }
    }

    [Fact]
    public async Task Given_a_manifest_with_an_unterminated_quote_When_loaded_Then_one_error_names_the_line_instead_of_losing_rows()
    {
        var root = TestImages.NewTempDir("quote");
        var images = Faults.DrawImages(Path.Combine(root, "img"), 4, 33);
        var lines = images.Select((p, i) => $"img/{Path.GetFileName(p)},{(i % 2 == 0 ? "a" : "b")}").ToList();
        lines.Insert(2, "\"img/broken.png,a");
        var manifest = Path.Combine(root, "manifest.csv");
        File.WriteAllLines(manifest, lines.Prepend("path,label"));

        var error = await Assert.ThrowsAsync<DatasetException>(() => ImageDataset.FromManifestAsync(manifest));

        Assert.Contains("line 4", error.Message, StringComparison.Ordinal);
        Assert.Contains("never closed", error.Message, StringComparison.Ordinal);

        // A quote inside a field is an ordinary character, not the start of a quoted field.
        File.WriteAllLines(manifest, ["path,label", .. lines.Where(l => !l.StartsWith('"')).Select((l, i) => i == 0 ? l + "\"x" : l)]);
        var dataset = await ImageDataset.FromManifestAsync(manifest);
        Assert.Equal(["a", "a\"x", "b"], dataset.Classes);
        Assert.Equal(4, dataset.Items.Count);
    }

    [Theory]
    [InlineData("tiff-le", "TIFF")]
    [InlineData("tiff-be", "TIFF")]
    [InlineData("heic", "HEIF/HEIC")]
    [InlineData("avif", "AVIF")]
    public void Given_a_TIFF_or_HEIC_file_When_verified_Then_it_is_an_unsupported_format_not_a_non_image(string kind, string name)
    {
        byte[] header = kind switch
        {
            "tiff-le" => [(byte)'I', (byte)'I', 42, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            "tiff-be" => [(byte)'M', (byte)'M', 0, 42, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0],
            "heic" => [0, 0, 0, 24, (byte)'f', (byte)'t', (byte)'y', (byte)'p', (byte)'h', (byte)'e', (byte)'i', (byte)'c', 0, 0, 0, 0, (byte)'m', (byte)'i', (byte)'f', (byte)'1'],
            _ => [0, 0, 0, 24, (byte)'f', (byte)'t', (byte)'y', (byte)'p', (byte)'a', (byte)'v', (byte)'i', (byte)'f', 0, 0, 0, 0, (byte)'m', (byte)'i', (byte)'f', (byte)'1'],
        };
        var bytes = header.Concat(new byte[512]).ToArray();

        var error = Assert.Throws<InvalidImageException>(() => ImageDecoder.Verify(bytes, "photo"));

        Assert.Equal(SkipReason.UnsupportedFormat, error.Reason);
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
    }
}
