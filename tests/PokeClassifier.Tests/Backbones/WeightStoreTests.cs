using System.Diagnostics;
using System.Security.Cryptography;
using PokeClassifier.Backbones;

namespace PokeClassifier.Tests.Backbones;

public sealed class WeightStoreTests : IDisposable
{
    private readonly LoopbackHttpServer _server = new();
    private readonly string _cache = TestImages.NewTempDir("weights");
    private readonly byte[] _body = Body(200_000, seed: 1);

    public void Dispose() => _server.Dispose();

    private static byte[] Body(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private WeightSource Source(string path, string? sha, string file = "model.onnx") =>
        new() { Url = _server.Url(path), Sha256 = sha, FileName = file, Format = WeightFormat.Onnx, HowToProduce = "run export.py" };

    private WeightStore Store(int attempts = 3, double timeoutSeconds = 10, bool allowDownload = true) => new(new WeightStoreOptions
    {
        CacheDirectory = _cache,
        MaxAttempts = attempts,
        Timeout = TimeSpan.FromSeconds(timeoutSeconds),
        RetryDelay = TimeSpan.FromMilliseconds(10),
        AllowDownload = allowDownload,
    });

    private string[] Leftovers() => Directory.GetFiles(_cache, "*.partial");

    [Fact]
    public async Task Given_a_good_file_on_the_server_When_resolved_twice_Then_it_is_downloaded_once_verified_and_cached()
    {
        _server.ServeFile("/m.onnx", _body, chunk: 8192);
        await File.WriteAllBytesAsync(Path.Combine(_cache, "model.onnx.999.dead.partial"), [1, 2, 3]); // left by a killed download
        var progress = new List<DownloadProgress>();
        var store = Store();

        var path = await store.ResolveAsync(Source("/m.onnx", Sha(_body)), progress: new SyncProgress<DownloadProgress>(progress.Add));
        var again = await store.ResolveAsync(Source("/m.onnx", Sha(_body)));

        Assert.Equal(Path.Combine(_cache, "model.onnx"), path);
        Assert.Equal(path, again);
        Assert.Equal(_body, await File.ReadAllBytesAsync(path));
        Assert.Equal(1, _server.Hits("/m.onnx"));
        Assert.Equal(new DownloadProgress("model.onnx", 0, _body.Length, 1), progress[0]);
        Assert.Equal(new DownloadProgress("model.onnx", _body.Length, _body.Length, 1), progress[^1]);
        Assert.Equal(1.0, progress[^1].Fraction);
        Assert.Empty(Leftovers());
    }

    [Fact]
    public async Task Given_a_hash_prefix_like_torchvision_file_names_When_resolved_Then_the_prefix_is_checked()
    {
        _server.ServeFile("/resnet.pth", _body);
        var path = await Store().ResolveAsync(Source("/resnet.pth", Sha(_body)[..8], "resnet18-" + Sha(_body)[..8] + ".pth"));
        Assert.Equal(_body.Length, new FileInfo(path).Length);

        var wrongPrefix = Source("/resnet.pth", "00000000", "other.pth");
        var e = await Assert.ThrowsAsync<WeightsUnavailableException>(() => Store().ResolveAsync(wrongPrefix));
        Assert.Contains(Sha(_body), e.Message, StringComparison.Ordinal);
        Assert.Contains("00000000... (the first 8 hex digits of its SHA-256)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_checksum_mismatch_When_resolved_Then_the_error_names_both_hashes_nothing_is_kept_and_it_is_not_retried()
    {
        _server.ServeFile("/m.onnx", _body);
        var expected = new string('a', 64);

        var e = await Assert.ThrowsAsync<WeightsUnavailableException>(() => Store().ResolveAsync(Source("/m.onnx", expected)));

        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Contains(Sha(_body), e.Message, StringComparison.Ordinal);
        Assert.Contains("'model.onnx'", e.Message, StringComparison.Ordinal);
        Assert.Contains(_server.Url("/m.onnx").ToString(), e.Message, StringComparison.Ordinal);
        Assert.Contains("run export.py", e.Message, StringComparison.Ordinal);
        Assert.Equal("model.onnx", e.FileName);
        Assert.Equal(expected, e.Sha256);
        Assert.Equal(1, _server.Hits("/m.onnx"));
        Assert.False(File.Exists(Path.Combine(_cache, "model.onnx")));
        Assert.Empty(Leftovers());
    }

    [Fact]
    public async Task Given_a_body_shorter_than_its_content_length_When_resolved_Then_every_attempt_fails_as_truncated()
    {
        _server.ServeTruncated("/m.onnx", _body, sent: 50_000);

        var e = await Assert.ThrowsAsync<WeightsUnavailableException>(() => Store(attempts: 2).ResolveAsync(Source("/m.onnx", Sha(_body))));

        Assert.Equal(2, _server.Hits("/m.onnx"));
        Assert.Contains("attempt 1:", e.Message, StringComparison.Ordinal);
        Assert.Contains("attempt 2:", e.Message, StringComparison.Ordinal);
        Assert.Matches("(truncated: 50,000 of 200,000 bytes|broke after 50,000 of 200,000 bytes)", e.Message);
        Assert.False(File.Exists(Path.Combine(_cache, "model.onnx")));
        Assert.Empty(Leftovers());
    }

    [Fact]
    public async Task Given_a_404_When_resolved_Then_it_fails_at_once_with_the_status_and_where_to_put_the_file()
    {
        _server.ServeStatus("/missing.onnx", 404, "Not Found");

        var e = await Assert.ThrowsAsync<WeightsUnavailableException>(() => Store().ResolveAsync(Source("/missing.onnx", Sha(_body))));

        Assert.Equal(1, _server.Hits("/missing.onnx"));
        Assert.Contains("404 Not Found", e.Message, StringComparison.Ordinal);
        Assert.Contains("Put the file in: " + Path.Combine(_cache, "model.onnx"), e.Message, StringComparison.Ordinal);
        Assert.Equal(_cache, e.CacheDirectory);
    }

    [Fact]
    public async Task Given_a_server_that_accepts_and_never_answers_When_resolved_Then_it_times_out_after_the_configured_wait()
    {
        _server.ServeHang("/hang.onnx");
        var watch = Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<WeightsUnavailableException>(() => Store(attempts: 2, timeoutSeconds: 1).ResolveAsync(Source("/hang.onnx", Sha(_body))));

        Assert.InRange(watch.Elapsed.TotalSeconds, 1.9, 30);
        Assert.Equal(2, _server.Hits("/hang.onnx"));
        Assert.Contains("no answer from the server within 1 s", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_server_that_fails_once_When_resolved_Then_the_retry_gets_the_file()
    {
        _server.Serve("/flaky.onnx", (s, n, ct) => n == 1
            ? LoopbackHttpServer.WriteAsync(s, 503, "Service Unavailable", 0, Array.Empty<byte>(), 1, null, ct)
            : LoopbackHttpServer.WriteAsync(s, 200, "OK", _body.Length, _body, 1 << 16, null, ct));
        var attempts = new List<int>();

        var path = await Store().ResolveAsync(Source("/flaky.onnx", Sha(_body)), progress: new SyncProgress<DownloadProgress>(p => attempts.Add(p.Attempt)));

        Assert.Equal(2, _server.Hits("/flaky.onnx"));
        Assert.Equal(Sha(_body), Sha(await File.ReadAllBytesAsync(path)));
        Assert.All(attempts, a => Assert.Equal(2, a));
    }

    [Fact]
    public async Task Given_four_tasks_fetching_the_same_file_at_once_When_resolved_Then_the_server_sends_it_once_and_all_get_one_good_copy()
    {
        _server.ServeFile("/slow.onnx", _body, chunk: 20_000, chunkDelay: TimeSpan.FromMilliseconds(30));
        var store = Store();

        var paths = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => store.ResolveAsync(Source("/slow.onnx", Sha(_body))))));

        Assert.Single(paths.Distinct());
        Assert.Equal(1, _server.Hits("/slow.onnx"));
        Assert.Equal(Sha(_body), Sha(await File.ReadAllBytesAsync(paths[0])));
        Assert.Equal(["model.onnx", "model.onnx.lock"], Directory.GetFiles(_cache).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Given_two_processes_fetching_the_same_file_at_once_When_both_finish_Then_there_is_one_good_copy_downloaded_once()
    {
        _server.ServeFile("/slow.onnx", _body, chunk: 10_000, chunkDelay: TimeSpan.FromMilliseconds(40));
        var probes = Enumerable.Range(0, 2).Select(_ => StartProbe(_server.Url("/slow.onnx"), Sha(_body), "model.onnx", offline: false)).ToArray();

        var results = await Task.WhenAll(probes.Select(FinishAsync));

        Assert.All(results, r => Assert.True(r.ExitCode == 0, r.Output));
        Assert.All(results, r => Assert.Contains("resolved " + Path.Combine(_cache, "model.onnx"), r.Output, StringComparison.Ordinal));
        Assert.Equal(1, _server.Hits("/slow.onnx"));
        Assert.Equal(Sha(_body), Sha(await File.ReadAllBytesAsync(Path.Combine(_cache, "model.onnx"))));
        Assert.Empty(Leftovers());
    }

    [Fact]
    public async Task Given_POKECLASSIFIER_OFFLINE_in_a_process_When_it_fetches_Then_it_does_not_download_and_says_where_to_put_the_file()
    {
        _server.ServeFile("/m.onnx", _body);

        var result = await FinishAsync(StartProbe(_server.Url("/m.onnx"), Sha(_body), "model.onnx", offline: true));

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(0, _server.Hits("/m.onnx"));
        Assert.Contains("downloads are off (POKECLASSIFIER_OFFLINE=1)", result.Output, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(_cache, "model.onnx"), result.Output, StringComparison.Ordinal);
        Assert.Contains(Sha(_body), result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_downloads_turned_off_When_the_file_is_not_cached_Then_one_error_names_file_checksum_folder_url_and_how_to_produce_it()
    {
        var e = await Assert.ThrowsAsync<WeightsUnavailableException>(() => Store(allowDownload: false).ResolveAsync(Source("/m.onnx", Sha(_body))));

        Assert.Equal(0, _server.Hits("/m.onnx"));
        Assert.Equal(
            $"""
            Weights file 'model.onnx' is not available: it is not in the cache and downloads are off (WeightStoreOptions.AllowDownload is false).
              Expected SHA-256: {Sha(_body)}
              Put the file in: {Path.Combine(_cache, "model.onnx")} (or pass its path explicitly).
              Download URL: {_server.Url("/m.onnx")}
              How to produce it: run export.py
            """.ReplaceLineEndings(), e.Message.ReplaceLineEndings());
    }

    [Fact]
    public async Task Given_a_damaged_cached_copy_When_resolved_Then_it_is_deleted_and_fetched_again()
    {
        _server.ServeFile("/m.onnx", _body);
        var cached = Path.Combine(_cache, "model.onnx");
        await File.WriteAllBytesAsync(cached, _body[..1000]);

        var path = await Store().ResolveAsync(Source("/m.onnx", Sha(_body)));

        Assert.Equal(cached, path);
        Assert.Equal(1, _server.Hits("/m.onnx"));
        Assert.Equal(_body.Length, new FileInfo(cached).Length);

        await File.WriteAllBytesAsync(cached, _body[..1000]);
        var e = await Assert.ThrowsAsync<WeightsUnavailableException>(() => Store(allowDownload: false).ResolveAsync(Source("/m.onnx", Sha(_body))));
        Assert.Contains($"the cached copy had SHA-256 {Sha(_body[..1000])} and was deleted", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(cached));
    }

    [Fact]
    public async Task Given_an_explicit_path_When_resolved_Then_it_is_used_when_it_matches_and_refused_when_missing_or_different()
    {
        var dir = TestImages.NewTempDir("explicit");
        var good = Path.Combine(dir, "good.onnx");
        var bad = Path.Combine(dir, "bad.onnx");
        await File.WriteAllBytesAsync(good, _body);
        await File.WriteAllBytesAsync(bad, _body[..10]);
        var store = Store();

        Assert.Equal(good, await store.ResolveAsync(Source("/m.onnx", Sha(_body)), good));
        var missing = await Assert.ThrowsAsync<WeightsUnavailableException>(() => store.ResolveAsync(Source("/m.onnx", Sha(_body)), Path.Combine(dir, "nope.onnx")));
        Assert.Contains($"the path given for it, '{Path.Combine(dir, "nope.onnx")}', does not exist", missing.Message, StringComparison.Ordinal);
        var different = await Assert.ThrowsAsync<WeightsUnavailableException>(() => store.ResolveAsync(Source("/m.onnx", Sha(_body)), bad));
        Assert.Contains($"has SHA-256 {Sha(_body[..10])}, which matches none of the expected checksums ({Sha(_body)})", different.Message, StringComparison.Ordinal);
        Assert.Equal(0, _server.Hits("/m.onnx"));
    }

    [Fact]
    public async Task Given_a_download_in_progress_When_cancelled_Then_it_stops_and_leaves_neither_the_file_nor_a_partial()
    {
        _server.ServeFile("/slow.onnx", _body, chunk: 10_000, chunkDelay: TimeSpan.FromMilliseconds(500));
        using var cts = new CancellationTokenSource();
        var progress = new SyncProgress<DownloadProgress>(p =>
        {
            if (p.BytesReceived == 0)
            {
                cts.CancelAfter(TimeSpan.FromMilliseconds(200));
            }
        });
        var watch = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Store().ResolveAsync(Source("/slow.onnx", Sha(_body)), progress: progress, cancellationToken: cts.Token));

        Assert.InRange(watch.Elapsed.TotalSeconds, 0.1, 5); // the whole body would take ten seconds
        Assert.False(File.Exists(Path.Combine(_cache, "model.onnx")));
        Assert.Empty(Leftovers());
    }

    [Fact]
    public async Task Given_a_custom_spec_whose_weights_are_on_a_server_When_run_through_the_fluent_API_Then_they_are_downloaded_with_progress_and_used()
    {
        var dir = TestImages.NewTempDir("custom");
        var model = await File.ReadAllBytesAsync(TestBackbones.Pooled(dir, size: 32, features: 8));
        _server.ServeFile("/tiny-cnn.onnx", model);
        var spec = new BackboneSpec
        {
            Name = "TinyCnn",
            ModelPath = string.Empty,
            InputWidth = 32,
            InputHeight = 32,
            FeatureLength = 8,
            Preprocessing = ImagePreprocessing.TorchImageNet,
            WeightSources = [new WeightSource { Url = _server.Url("/tiny-cnn.onnx"), FileName = "tiny-cnn.onnx", Sha256 = Sha(model) }],
        };
        var data = TestImages.ShapesDataset(4, 5, "circle", "square");
        var items = Directory.GetDirectories(data).SelectMany(d => Directory.GetFiles(d).Select(f => new PokeClassifier.Data.DatasetItem { Path = f, Label = Path.GetFileName(d) })).ToArray();
        var progress = new List<ClassificationProgress>();

        using var classifier = await ImageClassification.FromFolder(data)
            .WithBackbone(spec, weightStore: new WeightStoreOptions { CacheDirectory = _cache })
            .WithoutFeatureCache()
            .TrainAsync(items, new SyncProgress<ClassificationProgress>(progress.Add));

        Assert.Equal(Path.Combine(_cache, "tiny-cnn.onnx"), classifier.Backbone.ModelPath);
        Assert.Equal(1, _server.Hits("/tiny-cnn.onnx"));
        var kib = model.Length / 1024;
        Assert.Contains(new ClassificationProgress(ClassificationStage.DownloadingWeights, kib, kib), progress);
        Assert.True(progress.FindLastIndex(p => p.Stage == ClassificationStage.DownloadingWeights) < progress.FindIndex(p => p.Stage == ClassificationStage.Featurizing));
        Assert.Equal(["circle", "square"], classifier.Classes);
    }

    [Fact]
    public void Given_invalid_options_and_sources_When_validated_Then_every_problem_is_listed()
    {
        var e = Assert.Throws<ArgumentException>(() => new WeightStore(new WeightStoreOptions { MaxAttempts = 0, Timeout = TimeSpan.Zero, RetryDelay = TimeSpan.FromSeconds(-1), CacheDirectory = " " }));
        Assert.Contains("MaxAttempts must be at least 1 (was 0)", e.Message, StringComparison.Ordinal);
        Assert.Contains("Timeout must be positive", e.Message, StringComparison.Ordinal);
        Assert.Contains("RetryDelay must not be negative", e.Message, StringComparison.Ordinal);
        Assert.Contains("CacheDirectory must not be empty", e.Message, StringComparison.Ordinal);

        Assert.Contains("8 to 64 hexadecimal digits", Assert.Throws<ArgumentException>(() => new WeightSource { FileName = "a", Sha256 = "abc1234" }).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new WeightSource { FileName = "a", Sha256 = "zzzzzzzz" });
        Assert.Contains("plain file name", Assert.Throws<ArgumentException>(() => new WeightSource { FileName = "../evil.onnx" }).Message, StringComparison.Ordinal);
        Assert.Equal("abcdef12", new WeightSource { FileName = "a", Sha256 = "ABCDEF12" }.Sha256);
    }

    private Process StartProbe(Uri url, string sha, string file, bool offline)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "CacheProbe.dll"));
        foreach (var a in new[] { "fetch", url.ToString(), sha, _cache, file })
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["POKECLASSIFIER_OFFLINE"] = offline ? "1" : "0";
        return Process.Start(start)!;
    }

    private static async Task<(int ExitCode, string Output)> FinishAsync(Process process)
    {
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }

            return (process.ExitCode, await stdout + await stderr);
        }
    }

    /// <summary>Reports synchronously on the caller's thread (unlike Progress&lt;T&gt;).</summary>
    private sealed class SyncProgress<T>(Action<T> action) : IProgress<T>
    {
        private readonly Lock _gate = new();

        public void Report(T value)
        {
            lock (_gate)
            {
                action(value);
            }
        }
    }
}
