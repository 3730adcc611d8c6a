namespace PokeClassifier.Cli.Tests;

/// <summary><c>--precision</c> on the commands that featurize.</summary>
public sealed class PrecisionCliTests
{
    [Fact]
    public async Task Given_drawn_shapes_When_trained_with_precision_int8_Then_it_calibrates_on_the_training_images_and_caches_the_quantized_model()
    {
        var root = CliFixture.NewTempDir("cli-int8");
        var data = Path.Combine(root, "shapes");
        var cache = Path.Combine(root, "cache");
        CliFixture.DrawShapes(data, 8, seed: 11, "circle", "square", "triangle");
        var run = await CliRun.RunAsync("train", data, "--out", Path.Combine(root, "model.zip"), "--cache", cache, "--split", "0.75,0,0.25", "--precision", "int8");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("F1 (macro)", run.Output, StringComparison.Ordinal);
        Assert.Single(Directory.GetFiles(Path.Combine(cache, "quantized"), "*.onnx"));
        Assert.Contains("int8", string.Concat(Directory.GetFiles(cache, "backbone.txt", SearchOption.AllDirectories).Select(File.ReadAllText)), StringComparison.Ordinal);

        // A second run with the same images reuses the quantized model and every int8 feature.
        var again = await CliRun.RunAsync("train", data, "--out", Path.Combine(root, "model2.zip"), "--cache", cache, "--split", "0.75,0,0.25", "--precision", "INT8");
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Single(Directory.GetFiles(Path.Combine(cache, "quantized"), "*.onnx"));
    }

    [Fact]
    public async Task Given_an_unknown_or_unavailable_precision_When_run_Then_one_clear_line_and_its_exit_code()
    {
        var root = CliFixture.NewTempDir("cli-precision");
        var data = Path.Combine(root, "shapes");
        CliFixture.DrawShapes(data, 2, seed: 12, "circle", "square");
        var unknown = await CliRun.RunAsync("train", data, "--no-cache", "--precision", "fp16");
        Assert.True(unknown.ExitCode == ExitCodes.Usage, unknown.ToString());
        Assert.Contains("--precision 'fp16' is not one of fp32, int8, bf16", Assert.Single(unknown.ErrorLines), StringComparison.Ordinal);

        if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.Arm64)
        {
            var bf16 = await CliRun.RunAsync("train", data, "--no-cache", "--precision", "bf16");
            Assert.True(bf16.ExitCode == ExitCodes.NotAvailable, bf16.ToString());
            var line = Assert.Single(bf16.ErrorLines);
            Assert.Contains("Bf16", line, StringComparison.Ordinal);
            Assert.Contains("ARM64", line, StringComparison.Ordinal);
        }
    }
}
