using PokeClassifier.Tests.Backbones;

namespace PokeClassifier.Cli.Tests;

/// <summary>
/// The catalog's downloaded backbones through the real entry point, with the weights served on loopback (<c>--mirror</c>): every failure
/// is one line with the model exit code, and the weight cache keeps nothing it should not.
/// </summary>
public sealed class CliBackboneTests : IDisposable
{
    private const string VggFile = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5";
    private readonly LoopbackHttpServer _server = new();
    private readonly string _root = CliFixture.NewTempDir("cli-backbones");

    public CliBackboneTests() => CliFixture.DrawShapes(Data, 3, seed: 1, "circle", "square");

    private string Data => Path.Combine(_root, "shapes");

    private string Weights => Path.Combine(_root, "weights");

    public void Dispose()
    {
        _server.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private Task<CliRun> Train(string backbone, params string[] more) => CliRun.RunAsync(
        ["train", Data, "--backbone", backbone, "--weights-cache", Weights, "--cache", Path.Combine(_root, "features"), "--mirror", _server.Url("/").ToString(), "--out", Path.Combine(_root, "m.zip"), .. more]);

    private string[] CachedFiles() => Directory.Exists(Weights)
        ? Directory.GetFiles(Weights, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".lock", StringComparison.Ordinal)).ToArray()
        : [];

    private static void AssertOneLineModelError(CliRun run, string expected)
    {
        Assert.Equal(ExitCodes.Model, run.ExitCode);
        var line = Assert.Single(run.ErrorLines);
        Assert.Contains(expected, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_an_unknown_backbone_name_Then_the_error_lists_the_shipped_and_the_catalog_backbones()
    {
        var run = await Train("resnet101");

        Assert.Equal(ExitCodes.Usage, run.ExitCode);
        Assert.Contains("resnet18, densenet201, densenet201-keras, resnet18-torchvision, resnet50, vgg16, vgg16-keras", Assert.Single(run.ErrorLines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_offline_and_an_empty_cache_When_a_catalog_backbone_is_asked_for_Then_one_line_says_where_to_put_the_file()
    {
        var run = await Train("densenet201", "--offline");

        AssertOneLineModelError(run, "'densenet201-c1103571.pth' is not available: it is not in the cache and downloads are off");
        Assert.Equal(0, _server.Hits("/densenet201-c1103571.pth"));
    }

    [Fact]
    public async Task Given_a_server_sending_another_file_When_a_Keras_backbone_is_fetched_Then_the_checksum_refuses_it_in_one_line_and_nothing_is_cached()
    {
        var bytes = new byte[300_000];
        new Random(4).NextBytes(bytes);
        _server.ServeFile("/" + VggFile, bytes);

        var run = await Train("vgg16-keras");

        AssertOneLineModelError(run, "which does not match; it was discarded");
        Assert.Contains("MD5", run.Errors, StringComparison.Ordinal);
        Assert.Empty(CachedFiles());
    }

    [Fact]
    public async Task Given_a_server_that_cuts_the_body_short_When_fetched_Then_one_line_says_so_and_nothing_is_cached()
    {
        var bytes = new byte[300_000];
        _server.ServeTruncated("/" + VggFile, bytes, sent: 100_000);

        var run = await Train("vgg16-keras");

        Assert.Equal(ExitCodes.Model, run.ExitCode);
        Assert.Matches("the body was truncated|the connection broke after", Assert.Single(run.ErrorLines));
        Assert.Equal(3, _server.Hits("/" + VggFile));
        Assert.Empty(CachedFiles());
    }

    [Fact]
    public async Task Given_a_server_that_never_answers_When_fetched_Then_the_timeout_ends_it_in_one_line()
    {
        _server.ServeHang("/resnet50-0676ba61.pth");

        var run = await Train("resnet50", "--download-timeout", "1");

        AssertOneLineModelError(run, "no answer from the server within 1 s");
        Assert.Empty(CachedFiles());
    }
}
