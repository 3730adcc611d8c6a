using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Features;

namespace PokeClassifier.Tests.Reliability;

/// <summary>Folders built to trap a walker: symlink cycles, links out of a class, FIFOs, empty and unreadable folders.</summary>
public sealed class HostileFolderTests
{
    [Fact]
    public async Task Given_a_class_folder_holding_loop_to_itself_and_up_to_its_parent_When_loaded_Then_each_image_counts_once_under_its_own_label_and_both_links_are_listed()
    {
        var root = TestImages.NewTempDir("cycles");
        var circles = Faults.DrawImages(Path.Combine(root, "circle"), 4, 1, "circle");
        var squares = Faults.DrawImages(Path.Combine(root, "square"), 4, 2, "square");
        Directory.CreateSymbolicLink(Path.Combine(root, "circle", "loop"), ".");
        Directory.CreateSymbolicLink(Path.Combine(root, "circle", "up"), "..");

        var dataset = await ImageDataset.FromFolderAsync(root).WaitAsync(Faults.NoHang);

        Assert.Equal(8, dataset.Items.Count);
        Assert.Equal(circles.Order(StringComparer.Ordinal), dataset.Items.Where(i => i.Label == "circle").Select(i => i.Path));
        Assert.Equal(squares.Order(StringComparer.Ordinal), dataset.Items.Where(i => i.Label == "square").Select(i => i.Path));
        Assert.Empty(dataset.Duplicates);
        var links = dataset.Skipped.Where(s => s.Reason == SkipReason.NotARegularFile).Select(s => Path.GetFileName(s.Path)).Order(StringComparer.Ordinal);
        Assert.Equal(["loop", "up"], links);
        Assert.All(dataset.Skipped, s => Assert.Contains("not followed", s.Detail, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Given_top_level_links_back_into_the_dataset_When_loaded_Then_they_are_listed_and_a_class_linked_from_outside_is_kept()
    {
        var root = TestImages.NewTempDir("toplinks");
        Faults.DrawImages(Path.Combine(root, "circle"), 3, 3, "circle");
        var elsewhere = TestImages.NewTempDir("elsewhere");
        var squares = Faults.DrawImages(Path.Combine(elsewhere, "squares"), 3, 4, "square");
        Directory.CreateSymbolicLink(Path.Combine(root, "loop"), ".");                            // the dataset again: a cycle
        Directory.CreateSymbolicLink(Path.Combine(root, "alias"), Path.Combine(root, "circle"));  // circles under a second label
        Directory.CreateSymbolicLink(Path.Combine(root, "square"), Path.Combine(elsewhere, "squares")); // a legitimate class link

        var dataset = await ImageDataset.FromFolderAsync(root).WaitAsync(Faults.NoHang);

        Assert.Equal(["circle", "square"], dataset.Classes);
        Assert.Equal(6, dataset.Items.Count);
        Assert.Equal(squares.Select(Path.GetFileName).Order(StringComparer.Ordinal), dataset.Items.Where(i => i.Label == "square").Select(i => Path.GetFileName(i.Path)));
        var skipped = dataset.Skipped.ToDictionary(s => Path.GetFileName(s.Path), s => s);
        Assert.Contains("cycle", skipped["loop"].Detail, StringComparison.Ordinal);
        Assert.Contains("second time under another label", skipped["alias"].Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_FIFO_named_like_an_image_When_loaded_listed_featurized_and_predicted_Then_it_is_never_opened_and_listed_as_not_a_regular_file()
    {
        var root = TestImages.NewTempDir("fifo");
        Faults.DrawImages(Path.Combine(root, "circle"), 3, 5, "circle");
        Faults.DrawImages(Path.Combine(root, "square"), 3, 6, "square");
        var fifo = Path.Combine(root, "circle", "x.png");
        Faults.MakeFifo(fifo);
        File.CreateSymbolicLink(Path.Combine(root, "square", "link-to-fifo.png"), fifo);

        var dataset = await ImageDataset.FromFolderAsync(root).WaitAsync(Faults.NoHang);
        Assert.Equal(6, dataset.Items.Count);
        var listed = dataset.Skipped.Where(s => s.Reason == SkipReason.NotARegularFile).ToArray();
        Assert.Equal(2, listed.Length);
        Assert.All(listed, s => Assert.Contains("FIFO", s.Detail, StringComparison.Ordinal));

        var manifest = Path.Combine(root, "manifest.csv");
        File.WriteAllText(manifest, "path,label\ncircle/x.png,circle\n" + string.Join("\n", dataset.Items.Select(i => $"{Path.GetRelativePath(root, i.Path)},{i.Label}")) + "\n");
        var fromManifest = await ImageDataset.FromManifestAsync(manifest).WaitAsync(Faults.NoHang);
        Assert.Equal(SkipReason.NotARegularFile, Assert.Single(fromManifest.Skipped).Reason);

        var listing = ImageDataset.ListFiles([root, fifo]);
        Assert.DoesNotContain(listing.Files, f => f.EndsWith("x.png", StringComparison.Ordinal) || f.EndsWith("link-to-fifo.png", StringComparison.Ordinal));
        Assert.Equal(3, listing.Skipped.Count); // the FIFO inside the folder, the link to it, and the FIFO named directly

        using var featurizer = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { UseCache = false, Parallelism = 1 });
        var features = await featurizer.FeaturizeAsync(Faults.Items([fifo, dataset.Items[0].Path])).WaitAsync(Faults.NoHang);
        Assert.Single(features.Items);
        Assert.Equal(SkipReason.NotARegularFile, Assert.Single(features.Failed).Reason);
        var direct = await Task.Run(() => Assert.Throws<InvalidImageException>(() => featurizer.Featurize(fifo))).WaitAsync(Faults.NoHang);
        Assert.Equal(SkipReason.NotARegularFile, direct.Reason);
    }

    [Fact]
    public async Task Given_an_empty_class_folder_When_loaded_Then_the_class_is_listed_as_left_out()
    {
        var root = TestImages.NewTempDir("emptyclass");
        Faults.DrawImages(Path.Combine(root, "circle"), 2, 7, "circle");
        Faults.DrawImages(Path.Combine(root, "square"), 2, 8, "square");
        Directory.CreateDirectory(Path.Combine(root, "triangle"));

        var dataset = await ImageDataset.FromFolderAsync(root);

        var skipped = Assert.Single(dataset.Skipped);
        Assert.Equal(Path.Combine(root, "triangle"), skipped.Path);
        Assert.Equal(SkipReason.Empty, skipped.Reason);
        Assert.Equal("triangle", skipped.Label);
        Assert.Contains("left out", skipped.Detail, StringComparison.Ordinal);
    }

    [SkippableFact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Given_an_unreadable_sub_folder_and_an_unreadable_file_When_listed_and_read_without_root_override_Then_both_are_listed_not_fatal()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "permission bits and per-thread capabilities: Linux only");
        var root = TestImages.NewTempDir("unreadable");
        var images = Faults.DrawImages(Path.Combine(root, "circle"), 3, 9, "circle");
        var locked = Path.Combine(root, "circle", "locked");
        Faults.DrawImages(locked, 2, 10, "circle");
        File.SetUnixFileMode(locked, UnixFileMode.None);
        File.SetUnixFileMode(images[0], UnixFileMode.None);
        FileListing? listing = null;
        Exception? readError = null;
        var ran = Faults.TryRunWithoutPermissionOverride(() =>
        {
            listing = ImageDataset.ListFiles([root]);
            readError = Record.Exception(() => FileProbe.ReadRegularFile(images[0]));
        }, out var why);
        File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Skip.IfNot(ran, $"the kernel refused to drop the permission override for a thread: {why}");

        Assert.Equal(images.Order(StringComparer.Ordinal), listing!.Files);
        var skipped = Assert.Single(listing.Skipped);
        Assert.Equal(locked, skipped.Path);
        Assert.Equal(SkipReason.Unreadable, skipped.Reason);
        Assert.Contains("could not be listed", skipped.Detail, StringComparison.Ordinal);
        Assert.IsType<UnauthorizedAccessException>(readError);
    }
}
