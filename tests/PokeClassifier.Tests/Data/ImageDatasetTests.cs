using PokeClassifier.Data;
using SkiaSharp;

namespace PokeClassifier.Tests.Data;

public sealed class ImageDatasetTests
{
    [Fact]
    public async Task Given_a_messy_folder_When_loaded_Then_every_bad_file_is_listed_with_its_reason_and_good_ones_are_kept()
    {
        var root = TestImages.NewTempDir("messy");
        var rng = new Random(5);
        Directory.CreateDirectory(Path.Combine(root, "cats", "nested", "deeper"));
        Directory.CreateDirectory(Path.Combine(root, "dögs ünïcode"));
        Directory.CreateDirectory(Path.Combine(root, "empty-class"));
        using var a = TestImages.Shape("circle", rng);
        using var b = TestImages.Shape("square", rng);
        File.WriteAllBytes(Path.Combine(root, "cats", "a.png"), TestImages.Encode(a, SKEncodedImageFormat.Png));
        File.WriteAllBytes(Path.Combine(root, "cats", "nested", "deeper", "photo.jpeg"), TestImages.Encode(b, SKEncodedImageFormat.Jpeg));
        File.WriteAllBytes(Path.Combine(root, "cats", "really-a-png.jpg"), TestImages.Encode(b, SKEncodedImageFormat.Png));
        File.WriteAllBytes(Path.Combine(root, "dögs ünïcode", "hündchen.png"), TestImages.Encode(b, SKEncodedImageFormat.Png));
        File.WriteAllBytes(Path.Combine(root, "dögs ünïcode", "tiny.gif"), TestImages.TinyGif());
        File.WriteAllBytes(Path.Combine(root, "dögs ünïcode", "dot.png"), TestImages.SolidPng(1, 1, SKColors.Red));
        foreach (var kind in new[] { "empty", "text", "svg", "truncated-png", "truncated-jpeg" })
        {
            File.WriteAllBytes(Path.Combine(root, "cats", $"bad-{kind}.jpg"), ImageDecoderTests.BadBytes(kind));
        }

        File.WriteAllBytes(Path.Combine(root, "stray.png"), TestImages.Encode(a, SKEncodedImageFormat.Png));
        File.WriteAllText(Path.Combine(root, "labels.csv"), "ignored sidecar");

        var dataset = await ImageDataset.FromFolderAsync(root);

        Assert.Equal(["cats", "dögs ünïcode"], dataset.Classes);
        Assert.Equal(3, dataset.CountByClass["cats"]);
        Assert.Equal(3, dataset.CountByClass["dögs ünïcode"]);
        Assert.Contains(dataset.Items, i => i.Path.EndsWith("photo.jpeg", StringComparison.Ordinal) && i.Label == "cats");
        var reasons = dataset.Skipped.ToDictionary(s => Path.GetFileName(s.Path), s => s.Reason);
        Assert.Equal(SkipReason.Empty, reasons["bad-empty.jpg"]);
        Assert.Equal(SkipReason.NotAnImage, reasons["bad-text.jpg"]);
        Assert.Equal(SkipReason.UnsupportedFormat, reasons["bad-svg.jpg"]);
        Assert.Equal(SkipReason.Truncated, reasons["bad-truncated-png.jpg"]);
        Assert.Equal(SkipReason.Truncated, reasons["bad-truncated-jpeg.jpg"]);
        Assert.Equal(SkipReason.NotAnImage, reasons["stray.png"]);
        Assert.Equal(SkipReason.Empty, reasons["empty-class"]); // an empty class folder is said, not dropped
        Assert.Equal(7, dataset.Skipped.Count);
        Assert.All(dataset.Skipped.Where(s => s.Label is not null && s.Label != "empty-class"), s => Assert.Equal("cats", s.Label));

        // The same square encoded as PNG twice: under two classes, a labelling error.
        var cross = Assert.Single(dataset.Duplicates);
        Assert.True(cross.CrossesClasses);
        Assert.Equal(2, cross.Items.Count);
        Assert.Contains("7 skipped", dataset.ToString(), StringComparison.Ordinal);
        Directory.Delete(root, true);
    }

    [Fact]
    public async Task Given_a_folder_without_images_When_loaded_Then_a_clear_dataset_error_is_thrown()
    {
        var root = TestImages.NewTempDir("noimg");
        Directory.CreateDirectory(Path.Combine(root, "a"));
        File.WriteAllText(Path.Combine(root, "a", "notes.jpg"), "text");
        var e = await Assert.ThrowsAsync<DatasetException>(() => ImageDataset.FromFolderAsync(root));
        Assert.Contains("No usable image", e.Message, StringComparison.Ordinal);
        Assert.Contains("notes.jpg", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<DirectoryNotFoundException>(() => ImageDataset.FromFolderAsync(Path.Combine(root, "missing")));
    }

    [Fact]
    public async Task Given_a_manifest_with_groups_When_loaded_Then_labels_and_groups_come_from_its_columns()
    {
        var drawn = DrawnAnimations.Write(TestImages.NewTempDir("manifest"), classes: 5, framesPerAnimation: 2, size: 48);
        var dataset = await ImageDataset.FromManifestAsync(drawn.Manifest, new DatasetLoadOptions { VerifyImages = false });
        Assert.Equal(5, dataset.Classes.Count);
        Assert.Equal(5 * 4 * 2, dataset.Items.Count);
        Assert.True(dataset.HasGroups);
        var third = dataset.Items.First(i => i.Path.EndsWith("003_back-shiny_f001.png", StringComparison.Ordinal));
        Assert.Equal(DrawnAnimations.ClassName(2), third.Label);
        Assert.Equal("003_back-shiny", third.Group);
        Assert.Equal(8, dataset.Items.Count(i => i.Label == third.Label));
        Directory.Delete(drawn.Root, recursive: true);
    }

    [Fact]
    public async Task Given_a_manifest_missing_the_label_column_When_loaded_Then_the_error_names_the_columns()
    {
        var dir = TestImages.NewTempDir();
        var path = Path.Combine(dir, "m.csv");
        await File.WriteAllTextAsync(path, "file,kind\na.png,x\n");
        var e = await Assert.ThrowsAsync<DatasetException>(() => ImageDataset.FromManifestAsync(path));
        Assert.Contains("'path' and 'label'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_invalid_load_options_When_validated_Then_every_problem_is_listed()
    {
        var e = Assert.Throws<ArgumentException>(() => new DatasetLoadOptions { MaxDegreeOfParallelism = 0, GroupColumn = " " }.Validate());
        Assert.Contains("MaxDegreeOfParallelism", e.Message, StringComparison.Ordinal);
        Assert.Contains("GroupColumn", e.Message, StringComparison.Ordinal);
    }
}
