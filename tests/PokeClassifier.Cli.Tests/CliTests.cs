namespace PokeClassifier.Cli.Tests;

public sealed class CliTests(CliFixture fixture) : IClassFixture<CliFixture>
{
    public static TheoryData<string> Commands => new() { "prepare", "featurize", "train", "evaluate", "predict", "compare", "export", "lr-find" };

    [Fact]
    public async Task Given_no_command_When_asked_for_help_Then_every_command_is_listed()
    {
        var run = await CliRun.RunAsync("--help");
        Assert.Equal(0, run.ExitCode);
        foreach (var command in Commands)
        {
            Assert.Contains(command, run.Output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Given_a_command_When_asked_for_help_Then_its_usage_and_options_are_printed(string command)
    {
        var run = await CliRun.RunAsync(command, "--help");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($"pokeclassifier {command}", run.Output, StringComparison.Ordinal);
        Assert.Contains("--verbose", run.Output, StringComparison.Ordinal);
        Assert.Contains("EXAMPLES", run.Output, StringComparison.Ordinal);
        Assert.Empty(run.Errors);
    }

    [Theory]
    [InlineData("train")]
    [InlineData("featurize")]
    [InlineData("compare")]
    public async Task Given_the_backbone_catalog_When_a_command_prints_its_help_Then_it_names_every_backbone_the_command_accepts(string command)
    {
        // The names the command line accepts (the shipped resnet18 and the library's catalog, torchvision's resnet18 being
        // resnet18-torchvision there): a backbone added to the catalog must be added to the help too.
        var accepted = Inputs.Backbones;

        var run = await CliRun.RunAsync(command, "--help");

        Assert.True(run.ExitCode == 0, run.ToString());
        var help = string.Join(" ", run.Output.Split((char[])['\n', '\r', ' '], StringSplitOptions.RemoveEmptyEntries));
        Assert.All(accepted, name => Assert.Matches($@"(^|[^a-z0-9-]){System.Text.RegularExpressions.Regex.Escape(name)}([^a-z0-9-]|$)", help));
    }

    [Fact]
    public void Given_a_folder_of_drawn_shapes_When_trained_Then_the_model_is_saved_and_the_test_metrics_are_printed()
    {
        var run = fixture.Train;
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(new FileInfo(fixture.Model).Length > 40_000_000, "the model file holds the backbone");
        Assert.Contains("Accuracy", run.Output, StringComparison.Ordinal);
        Assert.Contains("F1 (macro)", run.Output, StringComparison.Ordinal);
        Assert.Contains("Saved", run.Output, StringComparison.Ordinal);
        Assert.Contains("Featurizing training images", run.Output, StringComparison.Ordinal); // the progress bar's task
        Assert.True(Directory.EnumerateFiles(fixture.Cache, "*.f32", SearchOption.AllDirectories).Any(), "the feature cache was used");
    }

    [Fact]
    public async Task Given_a_saved_model_When_evaluated_with_a_report_Then_metrics_and_three_reports_are_written()
    {
        var report = Path.Combine(fixture.Root, "eval-report");
        var run = await CliRun.RunAsync("evaluate", fixture.Model, fixture.Data, "--cache", fixture.Cache, "--report", report);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("Accuracy", run.Output, StringComparison.Ordinal);
        var accuracy = double.Parse(System.Text.RegularExpressions.Regex.Match(run.Output, @"Accuracy\s*│\s*([0-9.]+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(accuracy >= 0.85, $"accuracy {accuracy} on the (mostly training) images");
        foreach (var file in new[] { "report.md", "report.html", "report.json" })
        {
            Assert.True(new FileInfo(Path.Combine(report, file)).Length > 0, file);
        }
    }

    [Fact]
    public async Task Given_files_and_a_folder_When_predicted_with_top_2_Then_each_image_gets_its_label_and_two_candidates()
    {
        var circle = Path.Combine(fixture.Data, "circle", "circle_00.png");
        var run = await CliRun.RunAsync("predict", fixture.Model, circle, Path.Combine(fixture.Data, "square"), "--top", "2");
        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = run.Output.Split('\n');
        Assert.Contains(lines, l => l.Contains("circle_00.png", StringComparison.Ordinal) && l.Contains("circle", StringComparison.Ordinal));
        Assert.Equal(11, lines.Count(l => l.Contains(".png", StringComparison.Ordinal)));
        Assert.Equal(10, lines.Count(l => l.Contains("square_", StringComparison.Ordinal) && System.Text.RegularExpressions.Regex.IsMatch(l, @"│\s*square\s*│")));
    }

    [Fact]
    public async Task Given_two_heads_When_compared_Then_the_table_and_three_reports_come_out()
    {
        var report = Path.Combine(fixture.Root, "compare-report");
        var run = await CliRun.RunAsync("compare", fixture.Data, "--heads", "lbfgs,sdca", "--cache", fixture.Cache, "--split", "0.7,0,0.3", "--seed", "5", "--report", report);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("resnet18 + lbfgs", run.Output, StringComparison.Ordinal);
        Assert.Contains("resnet18 + sdca", run.Output, StringComparison.Ordinal);
        Assert.Contains("Best:", run.Output, StringComparison.Ordinal);
        var html = await File.ReadAllTextAsync(Path.Combine(report, "report.html"));
        Assert.Contains("Comparison", html, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(report, "report.json")));
    }

    [Fact]
    public async Task Given_a_model_When_exported_Then_mlnet_copies_it_and_onnx_writes_a_model_OnnxRuntime_loads()
    {
        var target = Path.Combine(fixture.Root, "exported.zip");
        var mlnet = await CliRun.RunAsync("export", fixture.Model, "--format", "mlnet", "--out", target);
        Assert.True(mlnet.ExitCode == 0, mlnet.ToString());
        Assert.Equal(new FileInfo(fixture.Model).Length, new FileInfo(target).Length);
        var onnxPath = Path.Combine(fixture.Root, "exported.onnx");
        var onnx = await CliRun.RunAsync("export", fixture.Model, "--format", "onnx", "--out", onnxPath);
        Assert.True(onnx.ExitCode == 0, onnx.ToString());
        Assert.Contains("0..255", onnx.Output, StringComparison.Ordinal);
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(onnxPath);
        Assert.Equal(["probabilities", "label"], session.OutputMetadata.Keys);
        Assert.Contains("pokeclassifier.classes", session.ModelMetadata.CustomMetadataMap.Keys);
    }

    [Fact]
    public async Task Given_three_shards_featurized_into_one_cache_When_trained_from_it_Then_training_computes_no_feature_and_predict_shards_the_files()
    {
        var data = Path.Combine(fixture.Root, "sharded");
        CliFixture.DrawShapes(data, 5, seed: 11, "circle", "square", "triangle");
        var cache = Path.Combine(fixture.Root, "sharded-cache");

        var shards = new List<CliRun>();
        for (var i = 0; i < 3; i++)
        {
            shards.Add(await CliRun.RunAsync("featurize", data, "--cache", cache, "--shard", $"{i}/3", "--parallelism", "1"));
        }

        Assert.All(shards, s => Assert.True(s.ExitCode == 0, s.ToString()));
        Assert.All(shards, s => Assert.Contains("5 of 15 image(s), 5 computed, 0 from the cache", s.Output, StringComparison.Ordinal));
        Assert.Equal(15, Directory.EnumerateFiles(cache, "*.f32", SearchOption.AllDirectories).Count());
        var again = await CliRun.RunAsync("featurize", data, "--cache", cache);
        Assert.Contains("15 of 15 image(s), 0 computed, 15 from the cache", again.Output, StringComparison.Ordinal);

        var train = await CliRun.RunAsync("train", data, "--cache", cache, "--split", "0.6,0,0.4", "--out", Path.Combine(fixture.Root, "sharded.zip"));
        Assert.True(train.ExitCode == 0, train.ToString());
        Assert.Equal(15, Directory.EnumerateFiles(cache, "*.f32", SearchOption.AllDirectories).Count()); // nothing new was computed

        var first = await CliRun.RunAsync("predict", fixture.Model, data, "--shard", "0/2", "--top", "1");
        var second = await CliRun.RunAsync("predict", fixture.Model, data, "--shard", "1/2", "--top", "1");
        int Rows(CliRun run) => Directory.EnumerateFiles(data, "*.png", SearchOption.AllDirectories).Count(f => run.Output.Contains(Path.GetFileName(f), StringComparison.Ordinal));
        Assert.Equal(8, Rows(first));
        Assert.Equal(7, Rows(second));
        var empty = await CliRun.RunAsync("predict", fixture.Model, Path.Combine(data, "circle", "circle_00.png"), "--shard", "1/2");
        Assert.True(empty.ExitCode == 0, empty.ToString());
        Assert.Contains("holds none of the 1 file(s)", empty.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_bad_inputs_When_run_Then_each_gives_one_clear_line_and_its_exit_code()
    {
        var empty = CliFixture.NewTempDir("empty");
        Directory.CreateDirectory(Path.Combine(empty, "cats"));
        File.WriteAllText(Path.Combine(empty, "cats", "notes.txt"), "not an image");
        var corrupt = Path.Combine(fixture.Root, "corrupt.zip");
        await File.WriteAllBytesAsync(corrupt, [0x50, 0x4B, 0x03, 0x04, 1, 2, 3, 4, 5, 6, 7]);
        var otherModel = Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNetPrepOnnx", "ResNetPreprocess.onnx");
        Assert.True(File.Exists(otherModel), otherModel);
        var cases = new (string[] Args, int Code, string Says)[]
        {
            (["train", Path.Combine(fixture.Root, "missing"), "--no-cache"], ExitCodes.Data, "does not exist"),
            (["train", empty, "--no-cache"], ExitCodes.Data, "No usable image"),
            (["predict", corrupt, Path.Combine(fixture.Data, "circle")], ExitCodes.Model, "damaged or not a PokeClassifier model"),
            (["evaluate", corrupt, fixture.Data], ExitCodes.Model, "damaged or not a PokeClassifier model"),
            (["train", fixture.Data, "--weights", otherModel, "--cache", fixture.Cache], ExitCodes.Model, "matches none of the expected checksums"),
            (["train", fixture.Data, "--backbone", "alexnet"], ExitCodes.Usage, "unknown backbone 'alexnet'"),
            (["compare", fixture.Data, "--heads", "svm"], ExitCodes.Usage, "unknown head 'svm'"),
            (["train", fixture.Data, "--split", "0.5,0.5"], ExitCodes.Usage, "--split"),
            (["train", fixture.Data, "--frobnicate"], ExitCodes.Usage, "frobnicate"),
            (["train"], ExitCodes.Usage, "data"),
            (["predict", fixture.Model, Path.Combine(fixture.Root, "nowhere.png")], ExitCodes.Data, "does not exist"),
            (["featurize", fixture.Data, "--shard", "2/2"], ExitCodes.Usage, "--shard '2/2' is not a shard"),
            (["featurize", fixture.Data, "--device", "gpu"], ExitCodes.Usage, "use cpu, cuda or cuda:N"),
            (["featurize", fixture.Data, "--cache", fixture.Cache, "--device", "cuda:0"], ExitCodes.NotAvailable, "Microsoft.ML.OnnxRuntime.Gpu.Linux"),
            (["train", fixture.Data, "--cache", fixture.Cache, "--head", "gap", "--device", "cuda:0"], ExitCodes.NotAvailable, "libtorch-cuda-12.8-linux-x64"),
            (["train", fixture.Data, "--cache", fixture.Cache, "--head", "finetune", "--device", "cuda"], ExitCodes.NotAvailable, "libtorch-cuda-12.8-linux-x64"),
            (["compare", fixture.Data, "--cache", fixture.Cache, "--heads", "lbfgs,mlp", "--device", "cuda:1"], ExitCodes.NotAvailable, "libtorch-cuda-12.8-linux-x64"),
            (["predict", fixture.Model, fixture.Data, "--shard", "one"], ExitCodes.Usage, "i/n"),
        };
        foreach (var (args, code, says) in cases)
        {
            var run = await CliRun.RunAsync(args);
            var what = string.Join(' ', args) + "\n" + run;
            Assert.True(run.ExitCode == code, what);
            var line = Assert.Single(run.ErrorLines);
            Assert.StartsWith("error: ", line, StringComparison.Ordinal);
            Assert.Contains(says, line, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("   at ", run.Errors, StringComparison.Ordinal); // no stack trace without --verbose
        }

        var verbose = await CliRun.RunAsync("evaluate", corrupt, fixture.Data, "--verbose");
        Assert.Equal(ExitCodes.Model, verbose.ExitCode);
        Assert.Contains("   at ", verbose.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_long_run_When_cancelled_Then_it_stops_with_130_and_says_the_cache_is_consistent()
    {
        var data = CliFixture.NewTempDir("cancel");
        CliFixture.DrawShapes(data, 25, seed: 9, "circle", "square", "triangle");
        var cache = CliFixture.NewTempDir("cancel-cache");
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(700));
        var run = await CliRun.RunAsync(cts.Token, "train", data, "--cache", cache, "--parallelism", "1", "--out", Path.Combine(data, "never.zip"));
        Assert.True(run.ExitCode == ExitCodes.Cancelled, run.ToString());
        var line = Assert.Single(run.ErrorLines);
        Assert.StartsWith("cancelled:", line, StringComparison.Ordinal);
        Assert.Contains("cache is consistent", line, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(data, "never.zip")));
        Assert.Empty(Directory.EnumerateFiles(cache, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Given_a_study_head_When_compared_with_an_MLNet_head_Then_both_train_on_the_cached_features_and_are_reported()
    {
        var report = Path.Combine(fixture.Root, "compare-heads");
        var run = await CliRun.RunAsync("compare", fixture.Data, "--backbones", "resnet18", "--heads", "lbfgs,dense256", "--cache", fixture.Cache, "--split", "0.7,0,0.3", "--seed", "5", "--report", report);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("resnet18 + lbfgs", run.Output, StringComparison.Ordinal);
        Assert.Contains("resnet18 + dense256", run.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(report, "report.html")), "the HTML report was written");
        Assert.Contains("TorchSharp FlattenDense256", await File.ReadAllTextAsync(Path.Combine(report, "report.json")), StringComparison.Ordinal);
    }
}
