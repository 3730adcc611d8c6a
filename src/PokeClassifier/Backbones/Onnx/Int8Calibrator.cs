using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using PokeClassifier.Data;
using PokeClassifier.Features;

namespace PokeClassifier.Backbones.Onnx;

/// <summary>
/// Calibrates and writes the int8 (QDQ) copy of a backbone, or finds it in the cache. The cache key is a hash of the backbone's
/// identity, the calibration method, the weight range and the content hashes of the calibration images, so the same images give the
/// same model without calibrating again. Each entry is <c>&lt;key&gt;.json</c> (the calibration set: every image's path and SHA-256,
/// and the measured ranges) and <c>&lt;key&gt;.onnx</c> (the quantized model), each written to a temporary file and renamed into place,
/// the model last: a model file present means a complete entry.
/// </summary>
internal static class Int8Calibrator
{
    /// <summary>The folder name quantized models are written to.</summary>
    public const string FolderName = "quantized";

    /// <summary>Bumped when the quantized graph changes for the same inputs (the key changes with it).</summary>
    private const int Version = 1;

    /// <summary>Full int8 weights (-127..127). Measured on AVX2, where VPMADDUBSW could saturate its 16-bit pair sums, see docs/benchmarks.md.</summary>
    internal const int WeightBits = 7;

    /// <summary>
    /// Where quantized models are written: <c>quantized/</c> inside the feature cache folder when the cache is on (so a run with its own
    /// cache keeps everything there), else under the cache root.
    /// </summary>
    public static string DirectoryFor(FeaturizerOptions options) =>
        options.UseCache
            ? Path.Combine(Path.GetFullPath(options.CacheDirectory ?? FeatureCache.DefaultDirectory), FolderName)
            : Path.Combine(CacheRoot.Directory, FolderName);

    /// <summary>Spreads <paramref name="count"/> picks evenly over <paramref name="available"/> items, in order (deterministic).</summary>
    public static IReadOnlyList<T> Spread<T>(IReadOnlyList<T> available, int count)
    {
        if (available.Count <= count)
        {
            return available;
        }

        var picked = new T[count];
        for (var i = 0; i < count; i++)
        {
            picked[i] = available[(int)((long)i * available.Count / count)];
        }

        return picked;
    }

    /// <summary>The int8 model of <paramref name="spec"/> calibrated on <paramref name="files"/>: from the cache, or calibrated now.</summary>
    /// <returns>The spec of the quantized model (an ONNX Runtime backbone) and what was done.</returns>
    /// <exception cref="PokeClassifierException">None of the calibration images can be used.</exception>
    /// <exception cref="NotSupportedException">The backbone's graph cannot be quantized (the reason is given).</exception>
    public static (BackboneSpec Spec, QuantizationInfo Info) Ensure(
        BackboneSpec spec, IReadOnlyList<string> files, CalibrationMethod method, string directory, int threads, long maxDecodePixels, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var skipped = new List<SkippedFile>();
        var images = new List<(string Path, string Hash, byte[] Bytes)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                skipped.Add(new SkippedFile { Path = file, Reason = SkipReason.Unreadable, Detail = e.Message });
                continue;
            }

            var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
            if (seen.Add(hash))
            {
                images.Add((file, hash, bytes));
            }
        }

        var identity = ImageFeaturizer.ComputeIdentity(spec);
        var key = Key(identity, method, images.Select(i => i.Hash));
        var modelPath = Path.Combine(directory, key + ".onnx");
        var (inputName, outputName) = spec.Engine == BackboneEngine.TorchSharp
            ? (BackboneSpec.ExportInputName, BackboneSpec.ExportOutputName)
            : (spec.InputName, spec.OutputName);
        var quantizedSpec = spec with
        {
            Engine = BackboneEngine.OnnxRuntime,
            Architecture = null,
            ModelPath = modelPath,
            InputName = inputName,
            OutputName = outputName,
            WeightSources = [],
        };

        if (File.Exists(modelPath))
        {
            var cachedCount = ReadCalibrationCount(Path.Combine(directory, key + ".json")) ?? images.Count;
            return (quantizedSpec, new QuantizationInfo { ModelPath = modelPath, Method = method, CalibrationImages = cachedCount, Skipped = skipped, FromCache = true, Duration = watch.Elapsed });
        }

        var preprocessor = new Preprocessor(spec.Preprocessing, spec.InputWidth, spec.InputHeight);
        var usable = new List<(string Path, string Hash, byte[] Bytes)>();
        foreach (var image in images)
        {
            try
            {
                // Decoded once here to find the unusable ones; decoded again per pass (keeping every tensor would cost 0.6 MB an image).
                ImageDecoder.DecodeRgba(image.Bytes, image.Path, spec.InputWidth, spec.InputHeight, maxDecodePixels);
                usable.Add(image);
            }
            catch (InvalidImageException e)
            {
                skipped.Add(new SkippedFile { Path = image.Path, Reason = e.Reason, Detail = e.Message });
            }
        }

        if (usable.Count == 0)
        {
            throw new PokeClassifierException(
                $"Int8 calibration needs at least one usable image; none of the {files.Count} given could be used" +
                (skipped.Count > 0 ? $" (first: {skipped[0]})." : "."));
        }

        var graph = BackboneGraph.For(spec);
        var declared = graph.Model.Graph.Inputs.FirstOrDefault(i => i.Name == graph.InputName)?.Shape;
        IReadOnlyList<OnnxDim> inputShape = declared is { Count: 4 } ? declared : [OnnxDim.Batch, 3, spec.InputHeight, spec.InputWidth];
        var plan = OnnxQuantizer.Plan(graph, inputShape);
        var tensors = OnnxQuantizer.CalibratedTensors(plan);
        var ranges = Calibrate(plan, tensors, usable, preprocessor, spec, method, threads, maxDecodePixels, cancellationToken);

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["pokeclassifier.quantization"] = string.Create(CultureInfo.InvariantCulture,
                $"static int8 QDQ: per-channel symmetric int{WeightBits} weights, uint8 activations, {method} calibration on {usable.Count} images; source identity {identity}"),
        };
        var model = OnnxQuantizer.QdqModel(plan, ranges, WeightBits, metadata);
        Directory.CreateDirectory(directory);
        var description = new CalibrationRecord
        {
            Backbone = spec.ToString(),
            Identity = identity,
            Method = method.ToString(),
            WeightBits = WeightBits,
            FoldedBatchNorms = plan.FoldedBatchNorms,
            QuantizedWeights = plan.QuantizedWeights,
            Images = usable.Select(i => new CalibrationImage { Path = i.Path, Sha256 = i.Hash }).ToArray(),
            Skipped = skipped.Select(s => s.ToString()).ToArray(),
            Ranges = tensors.ToDictionary(t => t, t => new[] { ranges[t].Min, ranges[t].Max }, StringComparer.Ordinal),
        };
        WriteAtomically(Path.Combine(directory, key + ".json"), JsonSerializer.SerializeToUtf8Bytes(description, JsonOptions));
        WriteAtomically(modelPath, model);
        return (quantizedSpec, new QuantizationInfo { ModelPath = modelPath, Method = method, CalibrationImages = usable.Count, Skipped = skipped, FromCache = false, Duration = watch.Elapsed });
    }

    internal static string Key(string identity, CalibrationMethod method, IEnumerable<string> contentHashes)
    {
        var text = string.Create(CultureInfo.InvariantCulture, $"int8-v{Version}|{identity}|{method}|w{WeightBits}|u8|{string.Join(",", contentHashes.Order(StringComparer.Ordinal))}");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..32];
    }

    private static Dictionary<string, (float Min, float Max)> Calibrate(
        QuantizationPlan plan, IReadOnlyList<string> tensors, List<(string Path, string Hash, byte[] Bytes)> images, Preprocessor preprocessor,
        BackboneSpec spec, CalibrationMethod method, int threads, long maxDecodePixels, CancellationToken cancellationToken)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = Math.Max(1, threads),
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        InferenceSession session;
        try
        {
            session = new InferenceSession(OnnxQuantizer.CalibrationModel(plan), options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelLoadException($"Backbone '{spec.ModelPath}': ONNX Runtime could not load the graph prepared for int8 calibration: {e.Message}", e);
        }

        using (session)
        {
            var inputShape = new long[] { 1, 3, spec.InputHeight, spec.InputWidth };
            var min = new float[tensors.Count];
            var max = new float[tensors.Count];
            Array.Fill(min, float.PositiveInfinity);
            Array.Fill(max, float.NegativeInfinity);
            var tensor = new float[preprocessor.TensorLength];
            var outputs = tensors.Where(t => t != plan.InputName).ToArray();

            void Pass(Action<int, ReadOnlySpan<float>> visit)
            {
                foreach (var image in images)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var rgba = ImageDecoder.DecodeRgba(image.Bytes, image.Path, spec.InputWidth, spec.InputHeight, maxDecodePixels);
                    preprocessor.Fill(rgba, tensor);
                    using var value = OrtValue.CreateTensorValueFromMemory(tensor, inputShape);
                    using var runOptions = new RunOptions();
                    using var results = session.Run(runOptions, [plan.InputName], [value], outputs);
                    for (var t = 0; t < tensors.Count; t++)
                    {
                        var at = Array.IndexOf(outputs, tensors[t]);
                        visit(t, at < 0 ? tensor : results[at].GetTensorDataAsSpan<float>());
                    }
                }
            }

            Pass((t, values) =>
            {
                foreach (var v in values)
                {
                    min[t] = Math.Min(min[t], v);
                    max[t] = Math.Max(max[t], v);
                }
            });

            if (method == CalibrationMethod.Percentile)
            {
                const int Bins = 4096;
                var histograms = new long[tensors.Count][];
                for (var t = 0; t < tensors.Count; t++)
                {
                    histograms[t] = new long[Bins];
                }

                Pass((t, values) =>
                {
                    var h = histograms[t];
                    var lo = min[t];
                    var width = (max[t] - lo) / Bins;
                    if (!(width > 0))
                    {
                        return;
                    }

                    foreach (var v in values)
                    {
                        h[Math.Clamp((int)((v - lo) / width), 0, Bins - 1)]++;
                    }
                });

                for (var t = 0; t < tensors.Count; t++)
                {
                    var (lo, hi) = Quantiles(histograms[t], min[t], max[t], 1e-5);
                    (min[t], max[t]) = (lo, hi);
                }
            }

            return Enumerable.Range(0, tensors.Count).ToDictionary(t => tensors[t], t => (min[t], max[t]), StringComparer.Ordinal);
        }
    }

    /// <summary>The values below which <paramref name="tail"/> and above which <paramref name="tail"/> of the histogram's mass lie (bin edges).</summary>
    private static (float Low, float High) Quantiles(long[] histogram, float min, float max, double tail)
    {
        var total = histogram.Sum();
        if (total == 0 || !(max > min))
        {
            return (min, max);
        }

        var width = (max - min) / histogram.Length;
        var cut = (long)(total * tail);
        int low = 0, high = histogram.Length - 1;
        for (long seen = 0; low < histogram.Length - 1 && seen + histogram[low] <= cut; low++)
        {
            seen += histogram[low];
        }

        for (long seen = 0; high > 0 && seen + histogram[high] <= cut; high--)
        {
            seen += histogram[high];
        }

        // A tensor that never goes below zero keeps its zero low end (a Relu output keeps its exact clamp).
        var lo = min >= 0 ? min : min + (low * width);
        var hi = min + ((high + 1) * width);
        return (lo, Math.Max(hi, lo));
    }

    private static int? ReadCalibrationCount(string path)
    {
        try
        {
            var record = JsonSerializer.Deserialize<CalibrationRecord>(File.ReadAllBytes(path), JsonOptions);
            return record?.Images.Length;
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        var temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        try
        {
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    private sealed class CalibrationRecord
    {
        public string Backbone { get; init; } = string.Empty;

        public string Identity { get; init; } = string.Empty;

        public string Method { get; init; } = string.Empty;

        public int WeightBits { get; init; }

        public int FoldedBatchNorms { get; init; }

        public int QuantizedWeights { get; init; }

        public CalibrationImage[] Images { get; init; } = [];

        public string[] Skipped { get; init; } = [];

        public Dictionary<string, float[]> Ranges { get; init; } = [];
    }

    private sealed class CalibrationImage
    {
        public string Path { get; init; } = string.Empty;

        public string Sha256 { get; init; } = string.Empty;
    }
}
