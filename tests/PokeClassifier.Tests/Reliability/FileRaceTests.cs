using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Features;

namespace PokeClassifier.Tests.Reliability;

/// <summary>Files that change under the library: deleted between listing and reading, growing while they are read.</summary>
public sealed class FileRaceTests
{
    [Fact]
    public async Task Given_files_deleted_between_listing_and_reading_When_loaded_Then_they_are_listed_unreadable_and_the_rest_load()
    {
        var root = TestImages.NewTempDir("deleted");
        var circles = Faults.DrawImages(Path.Combine(root, "circle"), 6, 21, "circle");
        Faults.DrawImages(Path.Combine(root, "square"), 6, 22, "square");
        var deleted = 0;

        // The progress callback runs after each file is checked, when every path is already listed: delete the last circles then.
        var progress = new Callback<int>(_ =>
        {
            if (Interlocked.Increment(ref deleted) == 1)
            {
                File.Delete(circles[4]);
                File.Delete(circles[5]);
            }
        });
        var dataset = await ImageDataset.FromFolderAsync(root, new DatasetLoadOptions { MaxDegreeOfParallelism = 1 }, progress).WaitAsync(Faults.NoHang);

        Assert.Equal(10, dataset.Items.Count);
        Assert.Equal(circles[4..].Order(StringComparer.Ordinal), dataset.Skipped.Select(s => s.Path));
        Assert.All(dataset.Skipped, s => Assert.Equal(SkipReason.Unreadable, s.Reason));
    }

    [Fact]
    public async Task Given_dataset_files_deleted_before_featurizing_When_featurized_Then_they_are_failed_and_the_others_featurized()
    {
        var images = Faults.DrawImages(TestImages.NewTempDir("deleted-feat"), 5, 23);
        var items = Faults.Items(images);
        File.Delete(images[1]);
        File.Delete(images[3]);
        using var featurizer = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { UseCache = false, Parallelism = 2 });

        var set = await featurizer.FeaturizeAsync(items).WaitAsync(Faults.NoHang);

        Assert.Equal([images[0], images[2], images[4]], set.Items.Select(i => i.Path));
        Assert.Equal([images[1], images[3]], set.Failed.Select(f => f.Path));
        Assert.All(set.Failed, f => Assert.Equal(SkipReason.Unreadable, f.Reason));
    }

    [Fact]
    public async Task Given_an_image_that_keeps_growing_while_read_When_loaded_and_featurized_Then_a_snapshot_is_read_and_nothing_hangs()
    {
        var root = TestImages.NewTempDir("growing");
        var circles = Faults.DrawImages(Path.Combine(root, "circle"), 3, 24, "circle");
        Faults.DrawImages(Path.Combine(root, "square"), 3, 25, "square");
        var growing = circles[0];
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            // Appends after the PNG's end as fast as it can: the file never stops growing while the library reads it.
            await using var stream = new FileStream(growing, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            var junk = new byte[64 * 1024];
            long total = 0;
            while (!stop.IsCancellationRequested && total < 64L * 1024 * 1024)
            {
                await stream.WriteAsync(junk);
                await stream.FlushAsync();
                total += junk.Length;
            }
        });
        try
        {
            await Task.Delay(50);
            var dataset = await ImageDataset.FromFolderAsync(root).WaitAsync(Faults.NoHang);
            using var featurizer = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { UseCache = false, Parallelism = 2 });
            var set = await featurizer.FeaturizeAsync(dataset.Items).WaitAsync(Faults.NoHang);

            // A PNG with bytes after its end still decodes; the rest of the run is unaffected.
            Assert.Contains(dataset.Items, i => i.Path == growing);
            Assert.Equal(6, set.Items.Count + set.Failed.Count);
            Assert.Equal(6, dataset.Items.Count);
        }
        finally
        {
            await stop.CancelAsync();
            await writer;
            File.Delete(growing);
        }
    }

    private sealed class Callback<T>(Action<T> action) : IProgress<T>
    {
        public void Report(T value) => action(value);
    }
}
