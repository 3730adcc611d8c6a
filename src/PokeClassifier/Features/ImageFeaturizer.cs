using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
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
    private readonly Preprocessor _preprocessor;
    private readonly ConcurrentBag<float[]> _tensors = [];
    private readonly FeaturizerOptions _options;
    private readonly SemaphoreSlim _calibrating = new(1, 1);
    private IBackboneEngine? _backbone;
    private string? _identity;
    private int _cacheWritesOff;

    /// <summary>
    /// Creates a featurizer for <paramref name="backbone"/>. A spec whose model file is not resolved yet (an empty
    /// <see cref="BackboneSpec.ModelPath"/> with <see cref="BackboneSpec.WeightSources"/>) takes it from the default weight cache;
    /// this constructor never downloads (see <see cref="WeightStore.ResolveAsync(BackboneSpec, string?, IProgress{DownloadProgress}?, CancellationToken)"/>).
    /// With <see cref="FeaturePrecision.Int8"/> and <see cref="FeaturizerOptions.CalibrationImages"/> it calibrates here (or finds the
    /// quantized model in the cache); without them, on the first <see cref="FeaturizeAsync"/> call.
    /// </summary>
    /// <exception cref="ArgumentException">The spec or the options are inconsistent (all problems listed).</exception>
    /// <exception cref="ModelLoadException">The model is missing, unreadable or does not match the spec.</exception>
    /// <exception cref="WeightsUnavailableException">The spec's weights are not resolved and not in the cache.</exception>
    /// <exception cref="NotSupportedException">The precision is not available on this machine or for this backbone, or multi-layer features for a backbone without a last stage to pool (what is missing is named).</exception>
    /// <exception cref="PokeClassifierException">Int8: none of the calibration images can be used.</exception>
    public ImageFeaturizer(BackboneSpec backbone, FeaturizerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        backbone.Validate();
        backbone = new WeightStore().ResolveCached(backbone);
        _options = options ?? new FeaturizerOptions();
        _options.Validate();
        if (_options.MultiLayerFeatures)
        {
            backbone = Backbones.Onnx.MultiLayerModel.Ensure(backbone, Path.Combine(Path.GetFullPath(_options.CacheDirectory ?? FeatureCache.DefaultDirectory), Backbones.Onnx.MultiLayerModel.FolderName));
        }

        Backbone = backbone;
        _preprocessor = new Preprocessor(backbone.Preprocessing, backbone.InputWidth, backbone.InputHeight);
        Cache = _options.UseCache ? new FeatureCache(_options.CacheDirectory) : null;
        switch (_options.Precision)
        {
            case FeaturePrecision.Int8:
                if (_options.CalibrationImages is { } calibration)
                {
                    Quantize(calibration, CancellationToken.None);
                }

                break;
            case FeaturePrecision.Bf16:
                var missing = Bf16Problem(backbone);
                if (missing is not null)
                {
                    throw new NotSupportedException(missing);
                }

                _backbone = BackboneEngines.Create(backbone, _options.Parallelism, _options.IntraOpThreads, _options.Device, new Dictionary<string, string> { ["mlas.enable_gemm_fastmath_arm64_bfloat16"] = "1" });
                SetIdentity(PrecisionIdentity(ComputeIdentity(backbone), "bf16"), "precision: bf16 (ONNX Runtime fast-math GEMM)");
                break;
            default:
                _backbone = BackboneEngines.Create(backbone, _options.Parallelism, _options.IntraOpThreads, _options.Device);
                SetIdentity(ComputeIdentity(backbone), null);
                break;
        }
    }

    /// <summary>The backbone.</summary>
    public BackboneSpec Backbone { get; }

    /// <summary>The arithmetic the backbone runs in.</summary>
    public FeaturePrecision Precision => _options.Precision;

    /// <summary>Int8: the quantized model in use and how it was obtained; <see langword="null"/> at other precisions and before calibration.</summary>
    public QuantizationInfo? Quantization { get; private set; }

    /// <summary>The shape of the backbone's feature output, batch dimension included.</summary>
    internal IReadOnlyList<int> OutputShape => Engine.OutputShape;

    /// <summary>The cache in use, or <see langword="null"/> when caching is off.</summary>
    public FeatureCache? Cache { get; }

    /// <summary>
    /// Why the cache stopped being written, when a write failed (full disk, read-only or permission-denied folder); then
    /// <see langword="null"/> no more. Entries already there are still read; features are computed and used, just not stored.
    /// </summary>
    public string? CacheProblem { get; private set; }

    /// <summary>
    /// The backbone's identity as used in cache keys: a hash of the model file's SHA-256, the preprocessing and the input size (and,
    /// for TorchSharp, the engine and architecture the weights are loaded into), and for another precision than FP32 the precision
    /// (and, for int8, the quantized model's SHA-256). A different model file, preprocessing, size or precision never reuses another's
    /// features.
    /// </summary>
    /// <exception cref="InvalidOperationException">Int8 without calibration images, before the first <see cref="FeaturizeAsync"/> call.</exception>
    public string Identity => _identity ?? throw NotCalibrated();

    /// <summary>Whether each image's features are the mean of the image's and its mirror image's (<see cref="FeaturizerOptions.FlipAveraging"/>).</summary>
    internal bool FlipAveraging => _options.FlipAveraging;

    /// <summary>Featurizes <paramref name="items"/>. Images that fail to decode are listed in <see cref="FeatureSet.Failed"/>, never dropped silently.</summary>
    /// <exception cref="OperationCanceledException">Cancelled; entries written so far stay valid.</exception>
    public async Task<FeatureSet> FeaturizeAsync(IReadOnlyList<DatasetItem> items, IProgress<FeaturizationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        var watch = Stopwatch.StartNew();
        if (_backbone is null && items.Count > 0)
        {
            await _calibrating.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (_backbone is null)
                {
                    var files = items.Select(i => i.Path).ToArray();
                    await Task.Run(() => Quantize(files, cancellationToken), cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                _calibrating.Release();
            }
        }

        var features = new float[items.Count][];
        var failed = new ConcurrentBag<(int Index, SkippedFile File)>();
        int done = 0, hits = 0, computed = 0;
        void Report() => progress?.Report(new FeaturizationProgress(Volatile.Read(ref done), items.Count, Volatile.Read(ref hits)));

        // Each worker takes an image through every stage (read, hash, cache, decode, preprocess, inference, cache write) before the
        // next: as many workers as sessions keep every core on the image in its own cache, with no hand-off between threads and
        // no more runnable threads than cores.
        void Featurize(int i, CancellationToken ct)
        {
            var item = items[i];
            string hash;
            float[][] tensor;
            try
            {
                ct.ThrowIfCancellationRequested();
                var bytes = FileProbe.ReadRegularFile(item.Path);
                hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
                if (Cache is not null && Cache.TryRead(Identity, hash, Backbone.FeatureLength, out var cached))
                {
                    features[i] = cached;
                    Interlocked.Increment(ref hits);
                    Interlocked.Increment(ref done);
                    Report();
                    return;
                }

                tensor = Prepare(bytes, item.Path);
            }
            catch (Exception e) when (e is InvalidImageException or IOException or UnauthorizedAccessException)
            {
                var reason = e is InvalidImageException invalid ? invalid.Reason : SkipReason.Unreadable;
                failed.Add((i, new SkippedFile { Path = item.Path, Label = item.Label, Reason = reason, Detail = e.Message }));
                Interlocked.Increment(ref done);
                Report();
                return;
            }

            var output = Run(tensor, ct);
            WriteToCache(hash, output);
            features[i] = output;
            Interlocked.Increment(ref computed);
            Interlocked.Increment(ref done);
            Report();
        }

        await Parallel.ForEachAsync(
            Enumerable.Range(0, items.Count),
            new ParallelOptions { MaxDegreeOfParallelism = _options.Parallelism, CancellationToken = cancellationToken },
            (i, ct) =>
            {
                Featurize(i, ct);
                return ValueTask.CompletedTask;
            }).ConfigureAwait(false);

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
        _ = Engine;
        return Run(Prepare(imageBytes, name), cancellationToken);
    }

    /// <summary>Features of one image file (not cached).</summary>
    public float[] Featurize(string imagePath, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(imagePath);
        return Featurize(FileProbe.ReadRegularFile(imagePath), imagePath, cancellationToken);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _backbone?.Dispose();
        _calibrating.Dispose();
    }

    /// <summary>The backbone's input tensor of a decoded image, and of its mirror image when <see cref="FeaturizerOptions.FlipAveraging"/> is on.</summary>
    /// <remarks>
    /// The preprocessing reads the decoded bitmap's own pixels (no copy of them), and the input tensors come from a small pool that
    /// <see cref="Run(float[][], CancellationToken)"/> refills: at 224 px a tensor is 600 KB, so allocating one per image puts every
    /// image on the large-object heap and costs a full collection every few images.
    /// </remarks>
    /// <exception cref="InvalidImageException">The bytes are not a usable image.</exception>
    private float[][] Prepare(byte[] bytes, string path)
    {
        using var bitmap = ImageDecoder.Decode(bytes, path, Backbone.InputWidth, Backbone.InputHeight, _options.MaxDecodePixels);
        var rgba = bitmap.GetPixelSpan();
        var tensor = RentTensor();
        _preprocessor.Fill(rgba, tensor);
        if (!_options.FlipAveraging)
        {
            return [tensor];
        }

        var mirrored = RentTensor();
        var flipped = System.Buffers.ArrayPool<byte>.Shared.Rent(rgba.Length); // 200 KB at 224 px: pooled, not one large object per image
        try
        {
            Mirror(rgba, Backbone.InputWidth, Backbone.InputHeight, flipped);
            _preprocessor.Fill(flipped.AsSpan(0, rgba.Length), mirrored);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(flipped);
        }

        return [tensor, mirrored];
    }

    private float[] RentTensor() => _tensors.TryTake(out var tensor) ? tensor : new float[_preprocessor.TensorLength];

    /// <summary>The features of each view, averaged.</summary>
    private float[] Run(float[][] views, CancellationToken cancellationToken)
    {
        var engine = Engine;
        var output = engine.Run(views[0], cancellationToken);
        for (var v = 1; v < views.Length; v++)
        {
            var other = engine.Run(views[v], cancellationToken);
            for (var k = 0; k < output.Length; k++)
            {
                output[k] += other[k];
            }
        }

        // Back to the pool once run; the pool never holds more than the tensors in flight at once (bounded channels).
        foreach (var view in views)
        {
            _tensors.Add(view);
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

    /// <summary>The RGBA image mirrored left to right, into <paramref name="mirrored"/>.</summary>
    internal static void Mirror(ReadOnlySpan<byte> rgba, int width, int height, Span<byte> mirrored)
    {
        var pixels = MemoryMarshal.Cast<byte, uint>(rgba[..(width * height * 4)]);
        var output = MemoryMarshal.Cast<byte, uint>(mirrored[..(width * height * 4)]);
        for (var y = 0; y < height; y++)
        {
            pixels.Slice(y * width, width).CopyTo(output.Slice(y * width, width));
            output.Slice(y * width, width).Reverse();
        }
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

    /// <summary>Why <see cref="FeaturePrecision.Bf16"/> cannot run here, or <see langword="null"/> when it can.</summary>
    internal static string? Bf16Problem(BackboneSpec backbone)
    {
        if (backbone.Engine != BackboneEngine.OnnxRuntime)
        {
            return $"Precision Bf16 needs an ONNX Runtime backbone; '{backbone.Name}' runs on {backbone.Engine}. Use Fp32, or Int8 (which quantizes the backbone's ONNX graph).";
        }

        var cpu = CpuDescription(out var flags);
        if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.Arm64)
        {
            var x86 = flags.Count == 0
                ? string.Empty
                : $" (AVX2: {(flags.Contains("avx2") ? "yes" : "no")}, AVX-512 BF16: {(flags.Contains("avx512_bf16") ? "yes" : "no")}, AMX-BF16: {(flags.Contains("amx_bf16") ? "yes" : "no")})";
            return $"Precision Bf16 is not available on this machine: ONNX Runtime's CPU provider runs bfloat16 only through its ARM64 fast-math GEMM " +
                   $"(session option mlas.enable_gemm_fastmath_arm64_bfloat16) and has no bfloat16 kernels for {System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}; " +
                   $"this process runs on {System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture}, CPU {cpu}{x86}. Use Fp32 or Int8.";
        }

        return flags.Contains("bf16")
            ? null
            : $"Precision Bf16 is not available on this machine: ONNX Runtime's ARM64 fast-math GEMM needs the CPU's BF16 extension, which CPU {cpu} does not report (no 'bf16' in /proc/cpuinfo). Use Fp32 or Int8.";
    }

    private static string CpuDescription(out HashSet<string> flags)
    {
        flags = new HashSet<string>(StringComparer.Ordinal);
        var model = "(unknown model)";
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    var colon = line.IndexOf(':', StringComparison.Ordinal);
                    if (colon < 0)
                    {
                        continue;
                    }

                    var key = line[..colon].Trim();
                    if (key is "model name" or "Model" && model.StartsWith('('))
                    {
                        model = line[(colon + 1)..].Trim();
                    }
                    else if (key is "flags" or "Features" && flags.Count == 0)
                    {
                        flags.UnionWith(line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries));
                    }
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return $"'{model}'";
    }

    private IBackboneEngine Engine => _backbone ?? throw NotCalibrated();

    private InvalidOperationException NotCalibrated() => new(
        $"The int8 featurizer of '{Backbone.Name}' is not calibrated yet: give {nameof(FeaturizerOptions)}.{nameof(FeaturizerOptions.CalibrationImages)}, or call {nameof(FeaturizeAsync)} first (it calibrates on its images).");

    /// <summary>Calibrates (or finds in the cache) the int8 model on <paramref name="files"/> and starts its sessions.</summary>
    private void Quantize(IReadOnlyList<string> files, CancellationToken cancellationToken)
    {
        var picked = Backbones.Onnx.Int8Calibrator.Spread(files, _options.CalibrationImageCount);
        var (spec, info) = Backbones.Onnx.Int8Calibrator.Ensure(
            Backbone, picked, _options.Calibration, Backbones.Onnx.Int8Calibrator.DirectoryFor(_options), _options.Parallelism * _options.IntraOpThreads, _options.MaxDecodePixels, cancellationToken);
        IBackboneEngine engine;
        try
        {
            engine = BackboneEngines.Create(spec, _options.Parallelism, _options.IntraOpThreads, _options.Device);
        }
        catch (ModelLoadException) when (info.FromCache)
        {
            // A damaged cache entry: calibrate again.
            File.Delete(spec.ModelPath);
            (spec, info) = Backbones.Onnx.Int8Calibrator.Ensure(
                Backbone, picked, _options.Calibration, Backbones.Onnx.Int8Calibrator.DirectoryFor(_options), _options.Parallelism * _options.IntraOpThreads, _options.MaxDecodePixels, cancellationToken);
            engine = BackboneEngines.Create(spec, _options.Parallelism, _options.IntraOpThreads, _options.Device);
        }

        Quantization = info;
        SetIdentity(PrecisionIdentity(ComputeIdentity(Backbone), "int8:" + HashFile(spec.ModelPath)), $"precision: int8, {info.Method} calibration on {info.CalibrationImages} images, model {spec.ModelPath}");
        _backbone = engine;
    }

    private void SetIdentity(string identity, string? precision)
    {
        identity += _options.FlipAveraging ? "-hflip" : string.Empty;
        _identity = identity;
        if (Cache is not null)
        {
            try
            {
                Cache.Describe(identity, $"{Backbone}\npreprocessing: {Backbone.Preprocessing.Describe()}\n{(precision is null ? string.Empty : precision + "\n")}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                TurnCacheWritesOff(e);
            }
        }
    }

    internal static string PrecisionIdentity(string fp32Identity, string precision) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{fp32Identity}|{precision}")))[..24];

    internal static string ComputeIdentity(BackboneSpec spec)
    {
        // v3: pixels from the library's own integer resampler (the same bytes on every CPU) instead of Skia's bicubic.
        var text = string.Create(CultureInfo.InvariantCulture,
            $"v3|{spec.Name}|{HashFile(spec.ModelPath)}|{spec.InputName}|{spec.OutputName}|{spec.InputWidth}x{spec.InputHeight}|{spec.FeatureLength}|{spec.Preprocessing.Describe()}|{(spec.Preprocessing.MeanImageModelPath is { } m ? HashFile(m) : "-")}{(spec.Engine == BackboneEngine.OnnxRuntime ? "" : $"|{spec.Engine}:{spec.Architecture}")}");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..24];
    }

    internal static string HashFile(string path) => FileHash.Sha256(path);
}
