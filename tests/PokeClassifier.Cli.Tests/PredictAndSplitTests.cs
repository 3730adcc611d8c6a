using System.Text.Json;

namespace PokeClassifier.Cli.Tests;

/// <summary><c>predict --format --out</c> and the fixed splits of <c>train</c> and <c>compare</c>, through the real entry point.</summary>
public sealed class PredictAndSplitTests(CliFixture fixture) : IClassFixture<CliFixture>
{
    private string Probe()
    {
        var dir = Path.Combine(fixture.Root, $"probe-{Guid.NewGuid():N}");
        CliFixture.DrawShapes(dir, 3, seed: 77, "circle", "square");
        File.WriteAllText(Path.Combine(dir, "circle", "broken.png"), "this is text, not a PNG");
        File.WriteAllBytes(Path.Combine(dir, "square", "empty.jpg"), []);
        return dir;
    }

    [Fact]
    public async Task Given_a_folder_with_broken_files_When_predicted_to_a_csv_file_Then_every_file_is_a_row_and_broken_ones_carry_a_reason()
    {
        var probe = Probe();
        var csv = Path.Combine(fixture.Root, "out", "predictions.csv");
        var run = await CliRun.RunAsync("predict", fixture.Model, probe, "--format", "csv", "--out", csv, "--top", "2", "--cache", fixture.Cache);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("Wrote 8 row(s)", run.Output, StringComparison.Ordinal);
        Assert.Contains("2 of 8 file(s) skipped", run.Output, StringComparison.Ordinal);
        var lines = File.ReadAllLines(csv);
        Assert.Equal("path,label,probability,top,skipped,detail", lines[0]);
        Assert.Equal(9, lines.Length);
        var rows = lines.Skip(1).Select(Fields).ToArray();
        Assert.All(rows, r => Assert.Equal(6, r.Length));
        Assert.Equal(["NotAnImage", "Empty"], rows.Where(r => r[4].Length > 0).Select(r => r[4]));
        var good = rows.Where(r => r[4].Length == 0).ToArray();
        Assert.Equal(6, good.Length);
        Assert.All(good, r => Assert.Equal(2, r[3].Split(';').Length));
        Assert.True(good.Count(r => r[0].Contains(Path.DirectorySeparatorChar + r[1] + Path.DirectorySeparatorChar, StringComparison.Ordinal)) >= 5, string.Join("\n", lines));
    }

    /// <summary>The fields of one RFC 4180 line (quoted fields may hold commas and doubled quotes).</summary>
    private static string[] Fields(string line) =>
        System.Text.RegularExpressions.Regex.Matches(line, "(?:^|,)(\"(?:[^\"]|\"\")*\"|[^,]*)")
            .Select(m => m.Groups[1].Value is ['"', .., '"'] q ? q[1..^1].Replace("\"\"", "\"", StringComparison.Ordinal) : m.Groups[1].Value).ToArray();

    [Fact]
    public async Task Given_json_format_When_predicted_to_the_console_Then_the_output_is_one_json_array_of_rows_and_the_note_goes_to_stderr()
    {
        var probe = Probe();
        var run = await CliRun.RunAsync("predict", fixture.Model, Path.Combine(probe, "circle"), Path.Combine(probe, "square", "square_00.png"), "--format", "json", "--top", "3", "--cache", fixture.Cache);
        Assert.True(run.ExitCode == 0, run.ToString());
        using var json = JsonDocument.Parse(run.Output);
        var rows = json.RootElement.EnumerateArray().ToArray();
        Assert.Equal(5, rows.Length);
        Assert.Equal(Path.Combine(probe, "square", "square_00.png"), rows[^1].GetProperty("path").GetString());
        var broken = Assert.Single(rows, r => r.TryGetProperty("skipped", out _));
        Assert.Equal("NotAnImage", broken.GetProperty("skipped").GetProperty("reason").GetString());
        Assert.All(rows.Where(r => !r.TryGetProperty("skipped", out _)), r => Assert.Equal(3, r.GetProperty("top").GetArrayLength()));
        Assert.Contains("1 of 5 file(s) skipped", run.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_only_broken_files_When_predicted_Then_the_rows_are_written_and_the_exit_code_is_3()
    {
        var dir = Path.Combine(fixture.Root, $"broken-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "a.png"), "text");
        var run = await CliRun.RunAsync("predict", fixture.Model, dir, "--format", "csv");
        Assert.Equal(ExitCodes.Data, run.ExitCode);
        Assert.Contains("a.png,,,,NotAnImage,", run.Output, StringComparison.Ordinal);
        Assert.Contains("None of the 1 file(s) is a usable image", run.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_bad_format_When_predicting_Then_it_is_a_usage_error()
    {
        var run = await CliRun.RunAsync("predict", fixture.Model, fixture.Data, "--format", "xml");
        Assert.Equal(ExitCodes.Usage, run.ExitCode);
        Assert.Contains("--format 'xml'", run.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_split_file_When_trained_and_compared_Then_the_split_is_exactly_the_file()
    {
        var split = Path.Combine(fixture.Root, "split.csv");
        var rows = Directory.EnumerateFiles(fixture.Data, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(f => Path.GetRelativePath(fixture.Data, f))
            .Select(p => $"{p},{(p.EndsWith("_00.png", StringComparison.Ordinal) || p.EndsWith("_01.png", StringComparison.Ordinal) ? "test" : "train")}");
        File.WriteAllLines(split, ["path,split", .. rows]);
        var train = await CliRun.RunAsync("train", fixture.Data, "--split-file", split, "--out", Path.Combine(fixture.Root, "split-model.zip"), "--cache", fixture.Cache);
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Contains("train 24, validation 0, test 6", train.Output, StringComparison.Ordinal);
        var compare = await CliRun.RunAsync("compare", fixture.Data, "--split-file", split, "--heads", "lbfgs", "--report", Path.Combine(fixture.Root, "split-report"), "--cache", fixture.Cache);
        Assert.True(compare.ExitCode == 0, compare.ToString());
        Assert.Contains("train 24, validation 0, test 6", compare.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_split_file_with_rows_matching_no_image_When_training_Then_a_data_error_lists_them()
    {
        var split = Path.Combine(fixture.Root, "split-bad.csv");
        File.WriteAllLines(split, ["path,split", "circle/circle_00.png,test", "circle/nope.png,train", "square/square_00.png,train", "triangle/missing.png,test"]);
        var run = await CliRun.RunAsync("train", fixture.Data, "--split-file", split, "--cache", fixture.Cache);
        Assert.Equal(ExitCodes.Data, run.ExitCode);
        Assert.Contains("2 row(s) that match no image", run.Errors, StringComparison.Ordinal);
        Assert.Contains("line 3: circle/nope.png", run.Errors, StringComparison.Ordinal);
        Assert.Contains("line 5: triangle/missing.png", run.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_split_file_that_leaves_a_class_without_training_images_When_comparing_Then_a_data_error_names_the_class()
    {
        var split = Path.Combine(fixture.Root, "split-untrained.csv");
        var rows = Directory.EnumerateFiles(fixture.Data, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(f => Path.GetRelativePath(fixture.Data, f).Replace('\\', '/'))
            .Select(p => $"{p},{(p.StartsWith("triangle/", StringComparison.Ordinal) || p.EndsWith("_00.png", StringComparison.Ordinal) ? "test" : "train")}");
        File.WriteAllLines(split, ["path,split", .. rows]);
        var run = await CliRun.RunAsync("compare", fixture.Data, "--split-file", split, "--heads", "lbfgs", "--cache", fixture.Cache);
        Assert.Equal(ExitCodes.Data, run.ExitCode);
        Assert.Contains("1 class(es) without training images: triangle (only in validation/test)", run.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_train_and_test_folders_When_trained_and_compared_Then_every_train_image_trains_and_every_test_image_tests()
    {
        var root = Path.Combine(fixture.Root, $"kaggle-{Guid.NewGuid():N}");
        CliFixture.DrawShapes(Path.Combine(root, "train"), 8, seed: 21, "circle", "square", "triangle");
        CliFixture.DrawShapes(Path.Combine(root, "test"), 3, seed: 22, "circle", "square", "triangle");
        var train = await CliRun.RunAsync("train", "--train", Path.Combine(root, "train"), "--test", Path.Combine(root, "test"), "--out", Path.Combine(root, "m.zip"), "--cache", fixture.Cache);
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Contains("train 24, validation 0, test 9", train.Output, StringComparison.Ordinal);
        var compare = await CliRun.RunAsync("compare", "--train", Path.Combine(root, "train"), "--test", Path.Combine(root, "test"), "--heads", "lbfgs", "--report", Path.Combine(root, "report"), "--cache", fixture.Cache);
        Assert.True(compare.ExitCode == 0, compare.ToString());
        Assert.True(File.Exists(Path.Combine(root, "report", "report.html")));
    }

    [Fact]
    public async Task Given_a_test_folder_with_a_class_the_train_folder_lacks_When_training_Then_a_data_error_names_it()
    {
        var root = Path.Combine(fixture.Root, $"kaggle-bad-{Guid.NewGuid():N}");
        CliFixture.DrawShapes(Path.Combine(root, "train"), 3, seed: 23, "circle", "square");
        CliFixture.DrawShapes(Path.Combine(root, "test"), 2, seed: 24, "circle", "triangle");
        var run = await CliRun.RunAsync("train", "--train", Path.Combine(root, "train"), "--test", Path.Combine(root, "test"), "--cache", fixture.Cache);
        Assert.Equal(ExitCodes.Data, run.ExitCode);
        Assert.Contains("1 class(es) with no training images: triangle", run.Errors, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--train and --test go together", "train", "--train", "x")]
    [InlineData("not both", "train", "data", "--train", "x", "--test", "y")]
    [InlineData("no data", "compare")]
    [InlineData("cannot be combined with --split-file", "train", "data", "--split-file", "s.csv", "--split", "0.5,0,0.5")]
    [InlineData("--folds draws its own folds", "compare", "data", "--split-file", "s.csv", "--folds", "3")]
    public async Task Given_conflicting_split_options_When_run_Then_it_is_a_usage_error(string message, params string[] args)
    {
        var run = await CliRun.RunAsync(args);
        Assert.Equal(ExitCodes.Usage, run.ExitCode);
        Assert.Contains(message, run.Errors, StringComparison.Ordinal);
    }
}
