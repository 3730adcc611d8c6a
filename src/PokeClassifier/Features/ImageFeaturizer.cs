using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using PokeClassifier.Backbones;
using PokeClassifier.Data;

namespace PokeClassifier.Features;

/// <summary>
/// Turns image files into backbone features: decoding and resizing run in parallel with inference, several ONNX Runtime sessions
/// run side by side, and every result is stored in the content-addressed <see cref="FeatureCache"/> so a second run over the same
/// images runs no inference. Thread-safe; dispose it to free the native sessions.
/// </summary>
public sealed partial class ImageFeaturizer : IDisposable
{
    private readonly IBackboneEngine _backbone;
    private readonly Preprocessor _preprocessor;
    private readonly FeaturizerOptions _options;
    private int _cacheWritesOff;

    /// <summary>
    /// Creates a featurizer for <paramref name="backbone"/>. A spec whose model file is not resolved yet (an empty
    /// <see cref="BackboneSpec.ModelPath"/> with <see cref="BackboneSpec.WeightSources"/>) takes it from the default weight cache;
    /// this constructor never downloads (see <see cref="WeightStore.ResolveAsync(BackboneSpec, string?, IProgress{DownloadProgress}?, CancellationToken)"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The spec is inconsistent (all problems listed).</exception>
    /// <exception cref="ModelLoadException">The model is missing, unreadable or does not match the spec.</exception>
    /// <exception cref="WeightsUnavailableException">The spec's weights are not resolved and not in the cache.</exception>
    public ImageFeaturizer(BackboneSpec backbone, FeaturizerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        backbone.Validate();
        backbone = new WeightStore().ResolveCached(backbone);
        _options = options ?? new FeaturizerOptions();
        _options.Validate();
        Backbone = backbone;
        _preprocessor = new Preprocessor(backbone.Preprocessing, backbone.InputWidth, backbone.InputHeight);
        _backbone = BackboneEngines.Create(backbone, _options.Parallelism, _options.IntraOpThreads);
        Cache = _options.UseCache ? new FeatureCache(_options.CacheDirectory) : null;
        Identity = ComputeIdentity(backbone) + (_options.FlipAveraging ? "-hflip" : string.Empty);
        if (Cache is not null)
        {
            try
            {
                Cache.Describe(Identity, $"{backbone}\npreprocessing: {backbone.Preprocessing.Describe()}\n");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                TurnCacheWritesOff(e);
            }
        }
    }

    /// <summary>The backbone.</summary>
    public BackboneSpec Backbone { get; }

    /// <summary>The shape of the backbone's feature output, batch dimension included.</summary>
    internal IReadOnlyList<int> OutputShape => _backbone.OutputShape;

    /// <summary>The cache in use, or <see langword="null"/> when caching is off.</summary>
    public FeatureCache? Cache { get; }

    /// <summary>
    /// Why the cache stopped being written, when a write failed (full disk, read-only or permission-denied folder); then
    /// <see langword="null"/> no more. Entries already there are still read; features are computed and used, just not stored.
    /// </summary>
    public string? CacheProblem { get; private set; }

    /// <summary>
    /// The backbone's identity as used in cache keys: a hash of the model file's SHA-256, the preprocessing and the input size (and,
    /// for TorchSharp, the engine and architecture the weights are loaded into). A different model file, preprocessing or size never
    /// reuses another's features.
    /// </summary>
    public string Identity { get; }

    /// <summary>Featurizes <paramref name="items"/>. Images that fail to decode are listed in <see cref="FeatureSet.Failed"/>, never dropped silently.</summary>
    /// <exception cref="OperationCanceledException">Cancelled; entries written so far stay valid.</exception>
    public async Task<FeatureSet> FeaturizeAsync(IReadOnlyList<DatasetItem> items, IProgress<FeaturizationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        var watch = Stopwatch.StartNew();
        var features = new float[items.Count][];
        var failed = new ConcurrentBag<(int Index, SkippedFile File)>();
        int done = 0, hits = 0, computed = 0;
        var channel = Channel.CreateBounded<(int Index, string Hash, float[][] Tensor)>(new BoundedChannelOptions(_options.Parallelism * 2)
        {
            SingleWriter = false,
            SingleReader = false,
        });

        void Report() => progress?.Report(new FeaturizationProgress(Volatile.Read(ref done), items.Count, Volatile.Read(ref hits)));

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = linked.Token;
        var producer = Task.Run(async () =>
        {
            try
            {
                await Parallel.ForEachAsync(Enumerable.Range(0, items.Count), new ParallelOptions { MaxDegreeOfParallelism = _options.Parallelism, CancellationToken = token }, async (i, ct) =>
                {
                    var item = items[i];
                    try
                    {
                        ct.ThrowIfCancellationRequested();
                        var bytes = FileProbe.ReadRegularFile(item.Path);
                        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
                        if (Cache is not null && Cache.TryRead(Identity, hash, Backbone.FeatureLength, out var cached))
                        {
                            features[i] = cached;
                            Interlocked.Increment(ref hits);
                            Interlocked.Increment(ref done);
                            Report();
                            return;
                        }

                        var tensor = Prepare(ImageDecoder.DecodeRgba(bytes, item.Path, Backbone.InputWidth, Backbone.InputHeight, _options.MaxDecodePixels));
                        await channel.Writer.WriteAsync((i, hash, tensor), ct).ConfigureAwait(false);
                    }
                    catch (InvalidImageException e)
                    {
                        failed.Add((i, new SkippedFile { Path = item.Path, Label = item.Label, Reason = e.Reason, Detail = e.Message }));
                        Interlocked.Increment(ref done);
                        Report();
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        failed.Add((i, new SkippedFile { Path = item.Path, Label = item.Label, Reason = SkipReason.Unreadable, Detail = e.Message }));
                        Interlocked.Increment(ref done);
                        Report();
                    }
                }).ConfigureAwait(false);
                channel.Writer.TryComplete();
            }
            catch (Exception e)
            {
                channel.Writer.TryComplete(e);
                throw;
            }
        }, token);

        // A consumer that fails must stop the producer: it waits on a bounded channel that nobody would drain otherwise.
        var consumers = Enumerable.Range(0, _options.Parallelism).Select(_ => Task.Run(async () =>
        {
            try
            {
                await foreach (var (index, hash, tensor) in channel.Reader.ReadAllAsync(token).ConfigureAwait(false))
                {
                    var output = Run(tensor, token);
                    WriteToCache(hash, output);
                    features[index] = output;
                    Interlocked.Increment(ref computed);
                    Interlocked.Increment(ref done);
                    Report();
                }
            }
            catch (Exception e)
            {
                channel.Writer.TryComplete(e);
                await linked.CancelAsync().ConfigureAwait(false);
                throw;
            }
        }, token)).ToArray();

        try
        {
            await Task.WhenAll(consumers.Append(producer)).ConfigureAwait(false);
        }
        catch
        {
            await linked.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(consumers.Append(producer).Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default))).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            throw;
        }

        var failedIndexes = failed.Select(f => f.Index).ToHashSet();
        var keep = Enumerable.Range(0, items.Count).Where(i => !failedIndexes.Contains(i)).ToArray();
        return new FeatureSet(
            Backbone.Name,
            Backbone.FeatureLength,
            keep.Select(i => items[i]).ToArray(),
            keep.Select(i => features[i]).ToArray(),
            failed.OrderBy(f => f.Index).Select(f => f.File).ToArray(),
            hits,
            computed,
            watch.Elapsed);
    }

    /// <summary>Features of one image given as bytes (not cached).</summary>
    /// <exception cref="InvalidImageException">The bytes are not a usable image.</exception>
    public float[] Featurize(byte[] imageBytes, string name = "image", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(imageBytes);
        return Run(Prepare(ImageDecoder.DecodeRgba(imageBytes, name, Backbone.InputWidth, Backbone.InputHeight, _options.MaxDecodePixels)), cancellationToken);
    }

    /// <summary>Features of one image file (not cached).</summary>
    public float[] Featurize(string imagePath, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(imagePath);
        return Featurize(FileProbe.ReadRegularFile(imagePath), imagePath, cancellationToken);
    }

    /// <inheritdoc />
    public void Dispose() => _backbone.Dispose();

    /// <summary>The backbone's input tensor of a decoded image, and of its mirror image when <see cref="FeaturizerOptions.FlipAveraging"/> is on.</summary>
    private float[][] Prepare(byte[] rgba)
    {
        var tensor = new float[_preprocessor.TensorLength];
        _preprocessor.Fill(rgba, tensor);
        if (!_options.FlipAveraging)
        {
            return [tensor];
        }

        var mirrored = new float[_preprocessor.TensorLength];
        _preprocessor.Fill(Mirror(rgba, Backbone.InputWidth, Backbone.InputHeight), mirrored);
        return [tensor, mirrored];
    }

    /// <summary>The features of each view, averaged.</summary>
    private float[] Run(float[][] views, CancellationToken cancellationToken)
    {
        var output = _backbone.Run(views[0], cancellationToken);
        for (var v = 1; v < views.Length; v++)
        {
            var other = _backbone.Run(views[v], cancellationToken);
            for (var k = 0; k < output.Length; k++)
            {
                output[k] += other[k];
            }
        }

        if (views.Length > 1)
        {
            var scale = 1f / views.Length;
            for (var k = 0; k < output.Length; k++)
            {
                output[k] *= scale;
            }
        }

        return output;
    }

    /// <summary>The RGBA image mirrored left to right.</summary>
    internal static byte[] Mirror(byte[] rgba, int width, int height)
    {
        var mirrored = new byte[rgba.Length];
        for (var y = 0; y < height; y++)
        {
            var row = y * width * 4;
            for (var x = 0; x < width; x++)
            {
                Buffer.BlockCopy(rgba, row + (x * 4), mirrored, row + ((width - 1 - x) * 4), 4);
            }
        }

        return mirrored;
    }

    /// <summary>Stores features; a cache that cannot be written is turned off for writing, once, with one warning, and the run goes on.</summary>
    private void WriteToCache(string hash, float[] output)
    {
        if (Cache is null || Volatile.Read(ref _cacheWritesOff) != 0)
        {
            return;
        }

        try
        {
            Cache.Write(Identity, hash, output);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TurnCacheWritesOff(e);
        }
    }

    private void TurnCacheWritesOff(Exception e)
    {
        if (Interlocked.Exchange(ref _cacheWritesOff, 1) != 0)
        {
            return;
        }

        CacheProblem = $"The feature cache '{Cache!.Directory}' cannot be written ({e.Message.TrimEnd('.')}): features are computed but not stored from now on " +
            "(entries already there are still used). Free space, fix the folder's permissions, or choose another cache folder (--cache DIR, or --no-cache).";
        _options.CacheWarning?.Invoke(CacheProblem);
    }

    internal static string ComputeIdentity(BackboneSpec spec)
    {
        var text = string.Create(CultureInfo.InvariantCulture,
            $"v2|{spec.Name}|{HashFile(spec.ModelPath)}|{spec.InputName}|{spec.OutputName}|{spec.InputWidth}x{spec.InputHeight}|{spec.FeatureLength}|{spec.Preprocessing.Describe()}|{(spec.Preprocessing.MeanImageModelPath is { } m ? HashFile(m) : "-")}{(spec.Engine == BackboneEngine.OnnxRuntime ? "" : $"|{spec.Engine}:{spec.Architecture}")}");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..24];
    }

    internal static string HashFile(string path) => FileHash.Sha256(path);
}
