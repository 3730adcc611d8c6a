using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Features;
using PokeClassifier.Tests.Backbones;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training;
using SkiaSharp;

namespace PokeClassifier.Tests.Training;

/// <summary>
/// Two classifiers over a small real ONNX CNN (32 px, so thousands of images featurize in seconds): an ML.NET head and a TorchSharp
/// MLP head, trained on drawn shapes; plus a folder of test files with broken ones among them.
/// </summary>
public sealed class PredictionFixture : IAsyncLifetime
{
    public string Root { get; } = TestImages.NewTempDir("predict");

    public string Data => Path.Combine(Root, "shapes");

    public string Probe => Path.Combine(Root, "probe");

    public BackboneSpec Backbone { get; private set; } = null!;

    public TrainedClassifier MLNet { get; private set; } = null!;

    public TrainedClassifier Torch { get; private set; } = null!;

    public string ModelPath => Path.Combine(Root, "model.zip");

    public IReadOnlyList<string> ProbeFiles { get; private set; } = [];

    public FeaturizerOptions Options(string cache) => new() { Parallelism = 2, CacheDirectory = cache };

    public async Task InitializeAsync()
    {
        Backbone = BackboneSpec.FromOnnx(TestBackbones.Pooled(Root, size: 32, features: 16, seed: 4), preprocessing: ImagePreprocessing.TorchImageNet);
        var rng = new Random(11);
        foreach (var shape in new[] { "circle", "square", "triangle" })
        {
            Directory.CreateDirectory(Path.Combine(Data, shape));
            Directory.CreateDirectory(Path.Combine(Probe, shape));
            for (var i = 0; i < 20; i++)
            {
                using var bmp = TestImages.Shape(shape, rng, size: 64);
                await File.WriteAllBytesAsync(Path.Combine(i < 14 ? Data : Probe, shape, $"{shape}_{i:D2}.png"), TestImages.Encode(bmp, SKEncodedImageFormat.Png));
            }
        }

        // Broken files among the probe images: empty, text, truncated PNG.
        await File.WriteAllBytesAsync(Path.Combine(Probe, "circle", "empty.png"), []);
        await File.WriteAllTextAsync(Path.Combine(Probe, "square", "notes.png"), "not an image at all");
        var png = await File.ReadAllBytesAsync(Path.Combine(Probe, "triangle", "triangle_14.png"));
        await File.WriteAllBytesAsync(Path.Combine(Probe, "triangle", "truncated.png"), png[..(png.Length / 3)]);
        ProbeFiles = Directory.EnumerateFiles(Probe, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();

        var dataset = await ImageDataset.FromFolderAsync(Data);
        MLNet = await ImageClassification.From(dataset).WithBackbone(Backbone).WithMLNetHead().WithFeaturizer(Options(Path.Combine(Root, "cache-train"))).TrainAsync(dataset.Items);
        Torch = await ImageClassification.From(dataset).WithBackbone(Backbone)
            .WithCustomHead(CustomHeadOptions.Mlp(0.1, 32), new TrainingOptions { Epochs = 40, LearningRate = 1e-2, Seed = 3, EarlyStopping = null, ValidationFraction = 0 })
            .WithFeaturizer(Options(Path.Combine(Root, "cache-train"))).TrainAsync(dataset.Items);
        MLNet.Save(ModelPath);
    }

    public TrainedClassifier Head(string name) => name == "mlnet" ? MLNet : Torch;

    public Task DisposeAsync()
    {
        MLNet.Dispose();
        Torch.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }

        return Task.CompletedTask;
    }
}

public sealed class PredictionTests(PredictionFixture fixture) : IClassFixture<PredictionFixture>
{
    [Theory]
    [InlineData("mlnet")]
    [InlineData("torch")]
    public async Task Given_files_with_broken_ones_When_predicted_as_a_stream_Then_rows_come_in_input_order_with_reasons_and_match_Predict(string head)
    {
        var classifier = fixture.Head(head);
        var progress = new List<PredictionProgress>();
        var rows = await ToListAsync(classifier.PredictAsync(fixture.ProbeFiles, topK: 2, new SyncProgress<PredictionProgress>(progress.Add)));
        Assert.Equal(fixture.ProbeFiles, rows.Select(r => r.Path));
        Assert.Equal(Enumerable.Range(0, rows.Count).Select(i => (long)i), rows.Select(r => r.Index));
        var skipped = rows.Where(r => !r.Succeeded).ToDictionary(r => Path.GetFileName(r.Path), r => r.Skipped!.Reason);
        Assert.Equal(new Dictionary<string, SkipReason> { ["empty.png"] = SkipReason.Empty, ["notes.png"] = SkipReason.NotAnImage, ["truncated.png"] = SkipReason.Truncated }, skipped);
        Assert.All(rows.Where(r => !r.Succeeded), r => Assert.False(string.IsNullOrWhiteSpace(r.Skipped!.Detail)));
        foreach (var row in rows.Where(r => r.Succeeded))
        {
            var alone = classifier.Predict(row.Path, topK: 2);
            Assert.Equal(alone.Top, row.Prediction!.Top);
        }

        var correct = rows.Count(r => r.Succeeded && Path.GetFileName(Path.GetDirectoryName(r.Path)) == r.Prediction!.Label);
        Assert.True(correct >= 12, $"{correct} of 18 probe images right");
        Assert.Equal(rows.Count, progress.Count);
        Assert.Equal(new PredictionProgress(rows.Count, 3, progress[^1].CacheHits), progress[^1]);
    }

    [Fact]
    public async Task Given_a_folder_When_predicted_twice_with_a_cache_Then_the_second_run_reads_every_feature_from_the_cache()
    {
        var cache = TestImages.NewTempDir("predict-cache");
        using var classifier = TrainedClassifier.Load(fixture.ModelPath, fixture.Backbone, fixture.Options(cache));
        var first = await ToListAsync(classifier.PredictAsync(fixture.Probe));
        var second = await ToListAsync(classifier.PredictAsync(fixture.Probe));
        Assert.Equal(fixture.ProbeFiles, first.Select(r => r.Path));
        Assert.DoesNotContain(first, r => r.FromCache);
        Assert.All(second.Where(r => r.Succeeded), r => Assert.True(r.FromCache, r.Path));
        Assert.Equal(first.Select(r => r.Prediction?.Top), second.Select(r => r.Prediction?.Top), new TopComparer());
    }

    [Fact]
    public async Task Given_folders_missing_files_and_special_files_When_predicted_Then_each_is_a_row_with_a_reason_not_a_crash()
    {
        var dir = TestImages.NewTempDir("predict-odd");
        var fifo = Path.Combine(dir, "pipe.png");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo))
        {
            await mkfifo.WaitForExitAsync();
        }

        string[] paths = [fixture.ProbeFiles[0], Path.Combine(dir, "missing.png"), dir, fifo, "/dev/null"];
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var rows = await ToListAsync(fixture.MLNet.PredictAsync(paths, cancellationToken: timeout.Token));
        Assert.Equal(paths, rows.Select(r => r.Path));
        Assert.True(rows[0].Succeeded);
        Assert.Equal([SkipReason.Unreadable, SkipReason.NotARegularFile, SkipReason.NotARegularFile, SkipReason.NotARegularFile], rows.Skip(1).Select(r => r.Skipped!.Reason));
        Assert.Contains("Could not find file", rows[1].Skipped!.Detail, StringComparison.Ordinal);
        Assert.Contains("a folder", rows[2].Skipped!.Detail, StringComparison.Ordinal);
        Assert.Contains("FIFO", rows[3].Skipped!.Detail, StringComparison.Ordinal);
        Assert.Contains("character device", rows[4].Skipped!.Detail, StringComparison.Ordinal);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public async Task Given_2000_images_When_streamed_Then_results_arrive_while_the_input_is_read_and_in_flight_images_stay_bounded()
    {
        var dir = TestImages.NewTempDir("predict-2000");
        var rng = new Random(5);
        var shapes = new[] { "circle", "square", "triangle" };
        var files = new string[2000];
        for (var i = 0; i < files.Length; i++)
        {
            using var bmp = TestImages.Shape(shapes[i % 3], rng, size: 24);
            files[i] = Path.Combine(dir, $"img_{i:D4}.png");
            await File.WriteAllBytesAsync(files[i], TestImages.Encode(bmp, SKEncodedImageFormat.Png));
        }

        using var classifier = TrainedClassifier.Load(fixture.ModelPath, fixture.Backbone, new FeaturizerOptions { Parallelism = 2, UseCache = false });
        var input = new CountingInput(files);
        const int bound = 4 * 2;
        long received = 0, maxAhead = 0, pulledAtFirst = -1;
        await foreach (var row in classifier.PredictAsync(input, topK: 1))
        {
            received++;
            var ahead = input.Pulled - received;
            maxAhead = Math.Max(maxAhead, ahead);
            pulledAtFirst = pulledAtFirst < 0 ? input.Pulled : pulledAtFirst;
            Assert.Equal(received - 1, row.Index);
            Assert.True(row.Succeeded, row.ToString());
            Assert.True(ahead <= bound, $"{ahead} files taken from the input ahead of the {received} results handed out (bound {bound})");
        }

        Assert.Equal(2000, received);
        Assert.True(pulledAtFirst <= bound + 1, $"the first result came after {pulledAtFirst} of 2000 files were read from the input");
        Assert.True(maxAhead >= 2, $"the pipeline never had more than {maxAhead} file in flight: not parallel");
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public async Task Given_a_consumer_that_stops_early_When_the_stream_is_abandoned_Then_the_input_stops_and_nothing_is_left_running()
    {
        var input = new CountingInput(Enumerable.Repeat(fixture.ProbeFiles[^1], 10_000));
        var taken = 0;
        await foreach (var row in fixture.MLNet.PredictAsync(input))
        {
            if (++taken == 5)
            {
                break;
            }
        }

        var pulled = input.Pulled;
        await Task.Delay(200);
        Assert.True(pulled <= 5 + 8, $"{pulled} files read for 5 results");
        Assert.Equal(pulled, input.Pulled);
        Assert.True(input.Disposed, "the input enumerator was not disposed");
    }

    [Fact]
    public async Task Given_a_cancelled_token_When_streaming_Then_the_enumeration_throws_OperationCanceledException()
    {
        using var cts = new CancellationTokenSource();
        var input = new CountingInput(Enumerable.Repeat(fixture.ProbeFiles[^1], 10_000));
        var received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in fixture.MLNet.PredictAsync(input, cancellationToken: cts.Token))
            {
                if (++received == 3)
                {
                    await cts.CancelAsync();
                }
            }
        });
        Assert.True(received <= 3 + 8, $"{received} results after cancellation");
    }

    [Fact]
    public void Given_bad_arguments_When_PredictAsync_is_called_Then_it_throws_at_once()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => fixture.MLNet.PredictAsync(fixture.ProbeFiles, topK: 0));
        Assert.Throws<ArgumentNullException>(() => fixture.MLNet.PredictAsync((IEnumerable<string>)null!));
        Assert.Throws<DirectoryNotFoundException>(() => fixture.MLNet.PredictAsync("/no/such/folder"));
    }

    [Theory]
    [InlineData("mlnet")]
    [InlineData("torch")]
    public async Task Given_one_classifier_When_8_threads_predict_at_once_Then_each_gets_exactly_the_sequential_answers(string head)
    {
        var classifier = fixture.Head(head);
        var files = fixture.ProbeFiles;
        var sequential = files.Select(f => Safe(() => classifier.Predict(f, topK: 3))).ToArray();
        var sequentialStream = await ToListAsync(classifier.PredictAsync(files, topK: 3));
        Assert.Equal(sequential.Select(p => p?.Top), sequentialStream.Select(r => r.Prediction?.Top), new TopComparer());

        using var start = new Barrier(8);
        var threads = Enumerable.Range(0, 8).Select(t => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            var results = new List<(ClassPrediction?[] Sync, List<ImagePrediction> Stream)>();
            for (var round = 0; round < 3; round++)
            {
                // Odd threads stream, even threads call Predict, each in its own order, so calls interleave differently.
                var order = t % 2 == 0 ? files.Select((f, i) => i).ToArray() : files.Select((f, i) => i).Reverse().ToArray();
                var sync = new ClassPrediction?[files.Count];
                foreach (var i in order)
                {
                    sync[i] = Safe(() => classifier.Predict(files[i], topK: 3));
                }

                var stream = ToListAsync(classifier.PredictAsync(files, topK: 3)).GetAwaiter().GetResult();
                results.Add((sync, stream));
            }

            return results;
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();

        foreach (var results in await Task.WhenAll(threads))
        {
            foreach (var (sync, stream) in results)
            {
                Assert.Equal(sequential.Select(p => p?.Top), sync.Select(p => p?.Top), new TopComparer());
                Assert.Equal(sequentialStream.Select(r => (r.Path, r.Skipped?.Reason)), stream.Select(r => (r.Path, r.Skipped?.Reason)));
                Assert.Equal(sequentialStream.Select(r => r.Prediction?.Top), stream.Select(r => r.Prediction?.Top), new TopComparer());
            }
        }
    }

    private static ClassPrediction? Safe(Func<ClassPrediction> predict)
    {
        try
        {
            return predict();
        }
        catch (InvalidImageException)
        {
            return null;
        }
    }

    private static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> source)
    {
        var list = new List<T>();
        await foreach (var item in source)
        {
            list.Add(item);
        }

        return list;
    }

    /// <summary>Exact equality of top-k lists: same labels, bit-identical probabilities.</summary>
    private sealed class TopComparer : IEqualityComparer<IReadOnlyList<LabelProbability>?>
    {
        public bool Equals(IReadOnlyList<LabelProbability>? x, IReadOnlyList<LabelProbability>? y) =>
            x is null ? y is null : y is not null && x.SequenceEqual(y);

        public int GetHashCode(IReadOnlyList<LabelProbability>? obj) => obj?.Count ?? 0;
    }

    /// <summary>An input that counts how many paths were taken from it.</summary>
    private sealed class CountingInput(IEnumerable<string> paths) : IEnumerable<string>
    {
        private long _pulled;

        public long Pulled => Interlocked.Read(ref _pulled);

        public bool Disposed { get; private set; }

        public IEnumerator<string> GetEnumerator()
        {
            try
            {
                foreach (var p in paths)
                {
                    Interlocked.Increment(ref _pulled);
                    yield return p;
                }
            }
            finally
            {
                Disposed = true;
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
