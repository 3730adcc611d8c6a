using System.Diagnostics;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Features;

namespace PokeClassifier.Tests.Features;

public sealed class ShardTests
{
    private static DatasetItem[] Items(int count) =>
        Enumerable.Range(0, count).Select(i => new DatasetItem { Path = $"/data/{(char)('a' + (i % 3))}/img{i:D3}.png", Label = "x" }).ToArray();

    [Fact]
    public void Given_a_list_and_n_shards_When_selected_Then_the_shards_are_disjoint_cover_it_exactly_and_differ_by_at_most_one()
    {
        var items = Items(23);
        var shuffled = items.OrderBy(i => i.Path.GetHashCode(StringComparison.Ordinal)).Reverse().ToArray();

        var shards = Enumerable.Range(0, 4).Select(i => new ShardSpec(i, 4).Select(items)).ToArray();

        Assert.Equal(items.Select(i => i.Path).Order(StringComparer.Ordinal), shards.SelectMany(s => s).Select(i => i.Path).Order(StringComparer.Ordinal));
        Assert.InRange(shards.Max(s => s.Count) - shards.Min(s => s.Count), 0, 1);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(shards[i], new ShardSpec(i, 4).Select(shuffled)); // the order the list came in does not matter
        }

        Assert.Equal(items.Select(i => i.Path).Order(StringComparer.Ordinal), ShardSpec.All.Select(items.Select(i => i.Path)));
        Assert.Empty(new ShardSpec(30, 31).Select(items));
    }

    [Theory]
    [InlineData("2/3", 2, 3)]
    [InlineData(" 0 / 1 ", 0, 1)]
    public void Given_i_slash_n_When_parsed_Then_it_is_shard_i_of_n_and_prints_the_same(string text, int index, int count)
    {
        var shard = ShardSpec.Parse(text);

        Assert.Equal(new ShardSpec(index, count), shard);
        Assert.Equal($"{index}/{count}", shard.ToString());
    }

    [Theory]
    [InlineData("3/3")]
    [InlineData("-1/3")]
    [InlineData("1/0")]
    [InlineData("1")]
    [InlineData("a/b")]
    [InlineData("1/2/3")]
    public void Given_a_bad_shard_text_When_parsed_Then_the_error_says_how_to_write_one(string text)
    {
        var e = Assert.Throws<FormatException>(() => ShardSpec.Parse(text));

        Assert.Contains("i/n", e.Message, StringComparison.Ordinal);
        Assert.Contains("JOB_COMPLETION_INDEX", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ShardSpec(2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ShardSpec(0, 0));
    }

    [Fact]
    public async Task Given_two_processes_sharding_one_folder_into_one_cache_When_both_finish_Then_the_cache_holds_exactly_one_processs_features_and_no_torn_entry()
    {
        // 3 classes x 8 drawn images, plus copies of two of them under other names, which fall into the other shard: both
        // processes then write the same entries at about the same time.
        var data = TestImages.ShapesDataset(8, 41, "circle", "square", "triangle");
        File.Copy(Path.Combine(data, "circle", "circle_001.png"), Path.Combine(data, "square", "zz_copy_a.png"));
        File.Copy(Path.Combine(data, "circle", "circle_000.jpg"), Path.Combine(data, "triangle", "zz_copy_b.jpg"));
        var dataset = await ImageDataset.FromFolderAsync(data);
        var shared = TestImages.NewTempDir("shard-cache");
        var single = TestImages.NewTempDir("single-cache");

        var probes = new[] { "0/2", "1/2" }.Select(shard =>
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "CacheProbe.dll"), "shard", shared, shard, data })
            {
                start.ArgumentList.Add(arg);
            }

            return Process.Start(start)!;
        }).ToArray();
        var outputs = await Task.WhenAll(probes.Select(async p =>
        {
            var output = await p.StandardOutput.ReadToEndAsync();
            var errors = await p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
            return (p.ExitCode, Text: output + errors);
        }));
        foreach (var p in probes)
        {
            p.Dispose();
        }

        Assert.All(outputs, o => Assert.True(o.ExitCode == 0, o.Text));
        Assert.Contains(outputs, o => o.Text.Contains("shard 0/2: 13 images", StringComparison.Ordinal));
        Assert.Contains(outputs, o => o.Text.Contains("shard 1/2: 13 images", StringComparison.Ordinal));

        // One process over the whole folder, in its own cache.
        using (var one = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { CacheDirectory = single, Parallelism = 1 }))
        {
            var all = await one.FeaturizeAsync(dataset.Items);
            Assert.Equal(24, all.Computed); // 26 files, 24 distinct contents
        }

        // The same entries, byte for byte, and nothing half-written left behind.
        static Dictionary<string, byte[]> Entries(string root) => Directory.GetFiles(root, "*.f32", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(root, f), File.ReadAllBytes, StringComparer.Ordinal);
        var sharded = Entries(shared);
        var reference = Entries(single);
        Assert.Equal(24, sharded.Count);
        Assert.Equal(reference.Keys.Order(StringComparer.Ordinal), sharded.Keys.Order(StringComparer.Ordinal));
        Assert.All(reference, kv => Assert.Equal(kv.Value, sharded[kv.Key]));
        Assert.Empty(Directory.GetFiles(shared, "*.tmp", SearchOption.AllDirectories));

        // One later run over the shared cache reads every image and computes none.
        using var reader = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { CacheDirectory = shared });
        var again = await reader.FeaturizeAsync(dataset.Items);
        Assert.Equal(0, again.Computed);
        Assert.Equal(dataset.Items.Count, again.CacheHits);
        Directory.Delete(data, recursive: true);
        Directory.Delete(shared, recursive: true);
        Directory.Delete(single, recursive: true);
    }
}
