using System.Collections.Concurrent;
using PokeClassifier.Backbones;
using PokeClassifier.Features;

namespace PokeClassifier.Tests.Reliability;

/// <summary>A feature cache that cannot be written: a disk that fills mid-run, a folder made read-only mid-run, a path that is no folder.</summary>
public sealed class CacheFaultTests
{
    private static async Task<(FeatureSet Set, string[] Warnings, ImageFeaturizer Featurizer)> FeaturizeAsync(string cache, IReadOnlyList<string> images, Action<FeaturizationProgress>? onProgress = null)
    {
        var warnings = new ConcurrentQueue<string>();
        var featurizer = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { CacheDirectory = cache, Parallelism = 2, CacheWarning = warnings.Enqueue });
        var progress = onProgress is null ? null : new SynchronousProgress(onProgress);
        var set = await featurizer.FeaturizeAsync(Faults.Items(images), progress).WaitAsync(Faults.NoHang);
        return (set, warnings.ToArray(), featurizer);
    }

    [SkippableFact]
    public async Task Given_a_disk_that_fills_mid_run_When_featurizing_Then_every_image_is_featurized_with_one_warning_naming_the_folder_and_no_temporary_file_is_left()
    {
        using var disk = TmpfsMount.TryCreate(256, out var why);
        Skip.If(disk is null, why);
        var images = Faults.DrawImages(TestImages.NewTempDir("fill"), 12, 11);
        var cache = Path.Combine(disk!.Path, "features");
        disk.Fill(leaveBytes: 5 * 4096); // room for the folders and a few entries, then ENOSPC

        var (set, warnings, featurizer) = await FeaturizeAsync(cache, images);
        using (featurizer)
        {
            Assert.Equal(12, set.Items.Count);
            Assert.Empty(set.Failed);
            Assert.All(Enumerable.Range(0, 12), i => Assert.Equal(512, set[i].Length));
            var warning = Assert.Single(warnings);
            Assert.Contains(cache, warning, StringComparison.Ordinal);
            Assert.Equal(warning, featurizer.CacheProblem);
            Assert.Empty(Faults.TempFiles(disk.Path));
            Assert.InRange(featurizer.Cache!.CountEntries(), 0, 11);
        }

        // The entries that were written are complete: a second run reads them and computes only the rest.
        var (again, _, second) = await FeaturizeAsync(cache, images);
        second.Dispose();
        Assert.Equal(new FeatureCache(cache).CountEntries(), again.CacheHits);
        Assert.Equal(12, again.CacheHits + again.Computed);
    }

    [SkippableFact]
    public async Task Given_a_cache_made_read_only_mid_run_When_featurizing_Then_the_run_finishes_uncached_with_one_warning_and_entries_written_before_stay_valid()
    {
        using var disk = TmpfsMount.TryCreate(8192, out var why);
        Skip.If(disk is null, why);
        var images = Faults.DrawImages(TestImages.NewTempDir("ro"), 12, 12);
        var cache = Path.Combine(disk!.Path, "features");
        var once = 0;

        var (set, warnings, featurizer) = await FeaturizeAsync(cache, images, p =>
        {
            if (p.Completed >= 4 && Interlocked.Exchange(ref once, 1) == 0)
            {
                disk.MakeReadOnly();
            }
        });
        using (featurizer)
        {
            Assert.Equal(12, set.Items.Count);
            Assert.Empty(set.Failed);
            var warning = Assert.Single(warnings);
            Assert.Contains("cannot be written", warning, StringComparison.Ordinal);
            Assert.Empty(Faults.TempFiles(disk.Path));
        }

        var written = new FeatureCache(cache).CountEntries();
        Assert.InRange(written, 4, 11);
        var (again, secondWarnings, second) = await FeaturizeAsync(cache, images);
        second.Dispose();
        Assert.Equal(written, again.CacheHits);
        Assert.Single(secondWarnings); // still read-only: said once again, and the run still completes
        Assert.Equal(set.Items.Select(i => i.Path), again.Items.Select(i => i.Path));
        Assert.All(Enumerable.Range(0, 12), i => Assert.Equal(set[i].ToArray(), again[i].ToArray()));
    }

    [Fact]
    public async Task Given_a_cache_path_whose_parent_is_a_regular_file_When_featurizing_Then_it_runs_uncached_with_one_warning()
    {
        // Refused even to root: the cache folder cannot be created under a file (ENOTDIR).
        var dir = TestImages.NewTempDir("notdir");
        var file = Path.Combine(dir, "not-a-folder");
        File.WriteAllText(file, "x");
        var images = Faults.DrawImages(Path.Combine(dir, "images"), 3, 13);

        var (set, warnings, featurizer) = await FeaturizeAsync(Path.Combine(file, "features"), images);
        featurizer.Dispose();

        Assert.Equal(3, set.Items.Count);
        Assert.Equal(3, set.Computed);
        Assert.Contains(Path.Combine(file, "features"), Assert.Single(warnings), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Given_a_read_only_cache_folder_from_the_start_When_featurizing_twice_Then_both_runs_finish_and_say_so_once_each()
    {
        using var disk = TmpfsMount.TryCreate(1024, out var why);
        Skip.If(disk is null, why);
        disk!.MakeReadOnly();
        var images = Faults.DrawImages(TestImages.NewTempDir("rostart"), 3, 14);
        var warnings = new ConcurrentQueue<string>();
        using var featurizer = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { CacheDirectory = Path.Combine(disk.Path, "features"), CacheWarning = warnings.Enqueue });

        var first = await featurizer.FeaturizeAsync(Faults.Items(images)).WaitAsync(Faults.NoHang);
        var second = await featurizer.FeaturizeAsync(Faults.Items(images)).WaitAsync(Faults.NoHang);

        Assert.Equal(3, first.Computed);
        Assert.Equal(3, second.Computed);
        Assert.Contains("Read-only file system", Assert.Single(warnings), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Calls back on the reporting thread (Progress&lt;T&gt; would post to the thread pool, after the fact).</summary>
    private sealed class SynchronousProgress(Action<FeaturizationProgress> report) : IProgress<FeaturizationProgress>
    {
        public void Report(FeaturizationProgress value) => report(value);
    }
}
