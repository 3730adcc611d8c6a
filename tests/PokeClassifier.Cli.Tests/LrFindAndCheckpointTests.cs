using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;
using PokeClassifier.Training;

namespace PokeClassifier.Cli.Tests;

/// <summary>Drawn shapes (more images than <see cref="CliFixture"/>, so that an epoch takes a while) and one feature cache.</summary>
public sealed class LrFindFixture : IDisposable
{
    public string Root { get; } = CliFixture.NewTempDir("cli-lr");

    public string Data => Path.Combine(Root, "shapes");

    public string Cache => Path.Combine(Root, "cache");

    public LrFindFixture() => CliFixture.DrawShapes(Data, 24, seed: 8, "circle", "square", "triangle");

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary><c>lr-find</c>, and <c>train --checkpoint/--resume</c> with a real child process killed mid-training.</summary>
public sealed class LrFindAndCheckpointTests(LrFindFixture fixture) : IClassFixture<LrFindFixture>
{
    private static readonly TimeSpan NoHang = TimeSpan.FromMinutes(4);

    // Slow enough to kill between two epochs (batch 1, a low rate so early stopping waits), deterministic by the seed.
    private static readonly string[] Training = ["--head", "mlp", "--epochs", "40", "--batch-size", "1", "--lr", "0.00003", "--split", "0.7,0,0.3", "--seed", "5"];

    [Fact]
    public async Task Given_drawn_shapes_When_lr_find_runs_Then_it_prints_the_suggested_rate_and_writes_a_valid_SVG_of_loss_against_rate()
    {
        var svg = Path.Combine(fixture.Root, "curves", "lr.svg");

        var run = await CliRun.RunAsync("lr-find", fixture.Data, "--head", "dense256", "--cache", fixture.Cache, "--out", svg, "--seed", "3");

        Assert.True(run.ExitCode == 0, run.ToString());
        var line = run.Output.Split('\n').Single(l => l.StartsWith("Suggested learning rate:", StringComparison.Ordinal));
        var rate = double.Parse(line.Split(' ')[3], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(rate, 1e-7, 10);
        Assert.Contains("Suggested learning rate (steepest descent):", run.Output, StringComparison.Ordinal);
        var document = XDocument.Load(svg);
        Assert.Equal(XName.Get("svg", "http://www.w3.org/2000/svg"), document.Root!.Name);
        Assert.Contains(document.Descendants(), e => e.Name.LocalName is "polyline" or "path");
        Assert.Contains(document.Descendants(), e => e.Name.LocalName == "text" && e.Value.Contains("learning rate (log scale)", StringComparison.Ordinal));
        Assert.False(File.Exists(svg + ".tmp"));
    }

    [Theory]
    [InlineData("--head", "lbfgs", "has no learning rate")]
    [InlineData("--steps", "3", "--steps must be between 10 and 100000")]
    public async Task Given_an_ML_NET_head_or_bad_steps_When_lr_find_runs_Then_it_is_a_usage_error_that_says_why(string option, string value, string message)
    {
        var run = await CliRun.RunAsync("lr-find", fixture.Data, option, value, "--cache", fixture.Cache, "--out", Path.Combine(fixture.Root, "never.svg"));

        Assert.Equal(ExitCodes.Usage, run.ExitCode);
        Assert.Contains(message, Assert.Single(run.ErrorLines), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(fixture.Root, "never.svg")));
    }

    [Fact]
    public async Task Given_a_training_killed_after_a_checkpoint_When_it_is_resumed_Then_the_saved_model_has_the_weights_and_predictions_of_an_uninterrupted_run()
    {
        var work = CliFixture.NewTempDir("cli-resume");
        try
        {
            var reference = Path.Combine(work, "reference.zip");
            var first = await ChildAsync([.. TrainArgs(reference), "--checkpoint", Path.Combine(work, "reference-ckpt")]);
            Assert.True(first.Code == 0, first.Output);

            // The same training in a child process, killed as soon as its first checkpoint is on disk.
            var checkpoints = Path.Combine(work, "ckpt");
            var resumedModel = Path.Combine(work, "resumed.zip");
            var checkpoint = Path.Combine(checkpoints, "training.ckpt");
            using (var process = Start([.. TrainArgs(resumedModel), "--checkpoint", checkpoints]))
            {
                var clock = Stopwatch.StartNew();
                while (!File.Exists(checkpoint) && !process.HasExited && clock.Elapsed < NoHang)
                {
                    await Task.Delay(5);
                }

                Assert.False(process.HasExited, $"the training ended (exit {(process.HasExited ? process.ExitCode : 0)}) before it could be killed");
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            Assert.False(File.Exists(resumedModel), "a killed training saves no model");
            var epoch = CheckpointEpoch(checkpoint);
            var total = ReadModel(reference).Epochs;
            Assert.InRange(epoch, 1, total - 1);

            var resumed = await ChildAsync([.. TrainArgs(resumedModel), "--checkpoint", checkpoints, "--resume"]);
            Assert.True(resumed.Code == 0, resumed.Output);

            var (expectedWeights, expectedEpochs) = ReadModel(reference);
            var (actualWeights, actualEpochs) = ReadModel(resumedModel);
            Assert.Equal(expectedEpochs, actualEpochs);
            Assert.True(expectedWeights.AsSpan().SequenceEqual(actualWeights), "the resumed model's head weights differ from the uninterrupted run's");
            using var a = TrainedClassifier.Load(reference);
            using var b = TrainedClassifier.Load(resumedModel);
            var images = Directory.GetFiles(fixture.Data, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Take(9).ToArray();
            foreach (var image in images)
            {
                Assert.Equal(a.Predict(image, 3).Top.Select(p => (p.Label, p.Probability)), b.Predict(image, 3).Top.Select(p => (p.Label, p.Probability)));
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public async Task Given_resume_without_a_checkpoint_or_with_another_runs_checkpoint_When_training_Then_each_is_a_clear_one_line_error()
    {
        var work = CliFixture.NewTempDir("cli-ckpt-errors");
        try
        {
            var empty = Path.Combine(work, "empty");
            var missing = await CliRun.RunAsync([.. TrainArgs(Path.Combine(work, "m.zip")), "--checkpoint", empty, "--resume"]);
            Assert.Equal(ExitCodes.Data, missing.ExitCode);
            Assert.Contains("--resume: there is no checkpoint in", Assert.Single(missing.ErrorLines), StringComparison.Ordinal);

            var noFolder = await CliRun.RunAsync([.. TrainArgs(Path.Combine(work, "m.zip")), "--resume"]);
            Assert.Equal(ExitCodes.Usage, noFolder.ExitCode);
            Assert.Contains("--checkpoint DIR", Assert.Single(noFolder.ErrorLines), StringComparison.Ordinal);

            var mlnet = await CliRun.RunAsync("train", fixture.Data, "--head", "lbfgs", "--cache", fixture.Cache, "--checkpoint", empty, "--out", Path.Combine(work, "m.zip"));
            Assert.Equal(ExitCodes.Usage, mlnet.ExitCode);
            Assert.Contains("--checkpoint does not apply to ML.NET", Assert.Single(mlnet.ErrorLines), StringComparison.Ordinal);

            // A checkpoint written with 2 epochs of one configuration, resumed with another learning rate.
            var dir = Path.Combine(work, "other");
            var written = await CliRun.RunAsync("train", fixture.Data, "--head", "mlp", "--epochs", "2", "--cache", fixture.Cache, "--checkpoint", dir, "--out", Path.Combine(work, "a.zip"), "--split", "0.7,0,0.3");
            Assert.True(written.ExitCode == 0, written.ToString());
            Assert.Contains("Checkpoint of the last epoch:", written.Output, StringComparison.Ordinal);
            var other = await CliRun.RunAsync("train", fixture.Data, "--head", "mlp", "--epochs", "2", "--lr", "0.01", "--cache", fixture.Cache, "--checkpoint", dir, "--resume", "--out", Path.Combine(work, "b.zip"), "--split", "0.7,0,0.3");
            Assert.Equal(ExitCodes.Model, other.ExitCode);
            var line = Assert.Single(other.ErrorLines);
            Assert.Contains("was written by another training run", line, StringComparison.Ordinal);
            Assert.Contains("Resume with the options of the run that wrote it", line, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(work, "b.zip")));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private string[] TrainArgs(string model) => ["train", fixture.Data, .. Training, "--cache", fixture.Cache, "--out", model];

    /// <summary>The epoch a checkpoint ended with (its header: magic, fingerprint, epoch).</summary>
    private static int CheckpointEpoch(string path)
    {
        using var reader = new BinaryReader(File.OpenRead(path));
        _ = reader.ReadString();
        _ = reader.ReadString();
        return reader.ReadInt32();
    }

    /// <summary>The head's weights (the safetensors bytes) and the number of epochs in the saved history.</summary>
    private static (byte[] Weights, int Epochs) ReadModel(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        using var weights = new MemoryStream();
        using (var s = zip.GetEntry("PokeClassifier/head.safetensors")!.Open())
        {
            s.CopyTo(weights);
        }

        using var classifier = TrainedClassifier.Load(path);
        return (weights.ToArray(), classifier.Training!.History.Count);
    }

    private static Process Start(string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "PokeClassifier.Cli.dll"));
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        var process = Process.Start(info)!;
        // Drain both pipes so the child never blocks on a full one.
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        return process;
    }

    private static async Task<(int Code, string Output)> ChildAsync(string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.Environment["COLUMNS"] = "200";
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "PokeClassifier.Cli.dll"));
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(NoHang);
        return (process.ExitCode, await stdout + "\n--- errors ---\n" + await stderr);
    }
}
