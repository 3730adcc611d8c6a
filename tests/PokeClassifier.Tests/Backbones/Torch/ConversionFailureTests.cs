using PokeClassifier.Backbones;

namespace PokeClassifier.Tests.Backbones.Torch;

/// <summary>
/// What goes wrong on the way from a download to a converted backbone, on loopback HTTP with generated checkpoints: each failure is one
/// clear message (the command line prints it as one line: PokeClassifier.Cli.Tests), and the weight cache is left with nothing corrupt in it (no checkpoint that cannot serve, no half graph, no partial file).
/// </summary>
public sealed class ConversionFailureTests : IDisposable
{
    private readonly LoopbackHttpServer _server = new();
    private readonly string _root = TestImages.NewTempDir("convert-fail");
    private readonly string _cache;

    public ConversionFailureTests() => _cache = Path.Combine(_root, "weights");

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

    private WeightStore Store(Func<string, Stream>? open = null) => new(new WeightStoreOptions
    {
        CacheDirectory = _cache,
        Timeout = TimeSpan.FromSeconds(1),
        RetryDelay = TimeSpan.FromMilliseconds(10),
        MaxAttempts = 2,
    })
    { OpenConversionFile = open };

    private string[] CacheFiles() => Directory.Exists(_cache)
        ? Directory.GetFiles(_cache, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".lock", StringComparison.Ordinal)).ToArray()
        : [];

    /// <summary>A ResNet18 checkpoint and its SHA-256.</summary>
    private static (byte[] Bytes, string Sha) ResNet18Checkpoint(string root)
    {
        using var module = TestCheckpoints.RandomModule("resnet18", seed: 9);
        var path = Path.Combine(root, "resnet18-upload.pth");
        TestCheckpoints.WritePth(module, path);
        var result = (File.ReadAllBytes(path), TestCheckpoints.Sha256(path));
        File.Delete(path);
        return result;
    }

    private static void AssertOneLine(Exception e) => Assert.DoesNotContain('\n', e.Message.Split("How to produce it")[0]);

    [Fact]
    public async Task Given_a_file_whose_hash_does_not_begin_with_the_prefix_in_its_name_When_resolved_Then_it_is_refused_and_nothing_is_cached()
    {
        var (bytes, _) = ResNet18Checkpoint(_root);
        _server.ServeFile("/resnet18-00000000.pth", bytes);
        var spec = TestCheckpoints.Served(BackboneSpec.Pretrained("resnet18", 32), "resnet18-00000000.pth", _server.Url("/resnet18-00000000.pth"), "00000000");

        var e = await Assert.ThrowsAsync<WeightsUnavailableException>(() => Store().ResolveAsync(spec));

        Assert.Contains("does not match", e.Message, StringComparison.Ordinal);
        Assert.Empty(CacheFiles());
    }

    [Fact]
    public async Task Given_a_server_that_cuts_the_body_short_When_resolved_Then_the_failure_says_so_and_nothing_is_cached()
    {
        var (bytes, sha) = ResNet18Checkpoint(_root);
        var file = $"resnet18-{sha[..8]}.pth";
        _server.ServeTruncated("/" + file, bytes, sent: bytes.Length / 2);
        var spec = TestCheckpoints.Served(BackboneSpec.Pretrained("resnet18", 32), file, _server.Url("/" + file), sha[..8]);

        var e = await Assert.ThrowsAsync<WeightsUnavailableException>(() => Store().ResolveAsync(spec));

        Assert.Matches("the body was truncated|the connection broke after", e.Message);
        Assert.Equal(2, _server.Hits("/" + file));
        Assert.Empty(CacheFiles());
    }

    [Fact]
    public async Task Given_a_server_that_never_answers_When_resolved_Then_it_times_out_and_nothing_is_cached()
    {
        _server.ServeHang("/resnet18-12345678.pth");
        var spec = TestCheckpoints.Served(BackboneSpec.Pretrained("resnet18", 32), "resnet18-12345678.pth", _server.Url("/resnet18-12345678.pth"), "12345678");

        var e = await Assert.ThrowsAsync<WeightsUnavailableException>(() => Store().ResolveAsync(spec));

        Assert.Contains("no answer from the server within 1 s", e.Message, StringComparison.Ordinal);
        Assert.Empty(CacheFiles());
    }

    [Fact]
    public async Task Given_a_checkpoint_of_another_architecture_When_converted_Then_the_first_mismatching_tensor_is_named_and_the_useless_file_is_deleted()
    {
        var (bytes, sha) = ResNet18Checkpoint(_root);
        var file = $"densenet201-{sha[..8]}.pth"; // a ResNet18 published under DenseNet201's name, with a correct hash prefix
        _server.ServeFile("/" + file, bytes);
        var spec = TestCheckpoints.Served(BackboneSpec.Pretrained("densenet201", 32), file, _server.Url("/" + file), sha[..8]);

        var e = await Assert.ThrowsAsync<ModelLoadException>(() => Store().ResolveAsync(spec));

        Assert.Contains("the first mismatching tensor: 'features.conv0.weight' [64,3,7,7] is missing from the file", e.Message, StringComparison.Ordinal);
        Assert.Contains("The cached file was deleted", e.Message, StringComparison.Ordinal);
        AssertOneLine(e);
        Assert.Empty(CacheFiles());
    }

    [Fact]
    public async Task Given_Keras_weights_of_another_network_When_converted_Then_the_first_unexpected_layer_is_named()
    {
        using var vgg = TestCheckpoints.RandomModule("vgg16-keras", seed: 2);
        var h5 = Path.Combine(_root, "vgg16_notop.h5");
        TestCheckpoints.WriteKerasH5("vgg16-keras", vgg, h5);
        var spec = TestCheckpoints.Served(BackboneSpec.Pretrained("densenet201-keras", 32), "densenet.h5", url: null, md5: TestCheckpoints.Md5(h5));

        var e = await Assert.ThrowsAsync<ModelLoadException>(() => Store().ResolveAsync(spec, weightsPath: h5));

        Assert.Contains("its first unexpected layer is 'block1_conv1'", e.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(h5)); // a file the caller passed is never deleted
        Assert.Empty(CacheFiles());
    }

    [Fact]
    public async Task Given_a_disk_that_fills_up_while_the_graph_is_written_When_converted_Then_the_error_says_so_and_no_half_graph_is_left()
    {
        var (bytes, sha) = ResNet18Checkpoint(_root);
        var file = $"resnet18-{sha[..8]}.pth";
        _server.ServeFile("/" + file, bytes);
        var spec = TestCheckpoints.Served(BackboneSpec.Pretrained("resnet18", 32), file, _server.Url("/" + file), sha[..8]);
        string? partial = null;

        var e = await Assert.ThrowsAsync<PokeClassifierException>(() => Store(open: path =>
        {
            partial = path;
            return new FullDiskStream(path, quota: 1 << 20);
        }).ResolveAsync(spec));

        Assert.Contains("Converting ResNet18 @32 to ONNX failed", e.Message, StringComparison.Ordinal);
        Assert.Contains("No space left on device", e.Message, StringComparison.Ordinal);
        AssertOneLine(e);
        Assert.NotNull(partial);
        Assert.False(File.Exists(partial));
        Assert.Empty(Directory.GetFiles(Path.Combine(_cache, "converted")));
        Assert.True(File.Exists(Path.Combine(_cache, file))); // the verified checkpoint stays: the next run converts without downloading

        var resolved = await Store().ResolveAsync(spec);
        Assert.True(File.Exists(resolved.ModelPath));
        Assert.Equal(1, _server.Hits("/" + file));
    }

    /// <summary>
    /// A disk with <c>quota</c> bytes free: the first bytes really go into the file, the rest is written to <c>/dev/full</c>, whose
    /// kernel error (ENOSPC, "No space left on device") is what a full disk raises.
    /// </summary>
    private sealed class FullDiskStream(string path, long quota) : Stream
    {
        private readonly FileStream _file = new(path, FileMode.CreateNew, FileAccess.Write);
        private long _written;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _written;

        public override long Position { get => _written; set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count)
        {
            var room = (int)Math.Min(count, quota - _written);
            _file.Write(buffer, offset, room);
            _file.Flush();
            _written += room;
            if (room < count)
            {
                if (!OperatingSystem.IsLinux())
                {
                    throw new IOException("No space left on device");
                }

                using var full = new FileStream("/dev/full", FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
                full.Write(buffer, offset + room, count - room);
            }
        }

        public override void Flush() => _file.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _file.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
