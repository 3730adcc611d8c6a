using Microsoft.ML.OnnxRuntime;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Features;

namespace PokeClassifier.Benchmarks;

/// <summary>
/// The ceiling for the library: ResNet18 run by bare ONNX Runtime sessions on tensors decoded and preprocessed beforehand
/// (with the library's own decoder and preprocessing, so the outputs can be compared value for value).
/// </summary>
internal sealed class BareOnnxBaseline : IDisposable
{
    private readonly BackboneSpec _spec;
    private readonly InferenceSession[] _sessions;
    private readonly SessionOptions _options;
    private readonly long[] _shape;

    /// <param name="spec">The backbone.</param>
    /// <param name="sessions">Sessions run side by side, one per worker thread.</param>
    /// <param name="intraOpThreads">Threads inside each session.</param>
    public BareOnnxBaseline(BackboneSpec spec, int sessions, int intraOpThreads)
    {
        _spec = spec;
        _shape = [1, 3, spec.InputHeight, spec.InputWidth];
        // The same settings the library uses for its sessions.
        _options = new SessionOptions
        {
            IntraOpNumThreads = intraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _sessions = Enumerable.Range(0, sessions).Select(_ => new InferenceSession(spec.ModelPath, _options)).ToArray();
    }

    public int Sessions => _sessions.Length;

    /// <summary>Decodes and preprocesses every image exactly as <see cref="ImageFeaturizer"/> does.</summary>
    public static float[][] Predecode(BackboneSpec spec, IReadOnlyList<DatasetItem> items)
    {
        var preprocessor = new Preprocessor(spec.Preprocessing, spec.InputWidth, spec.InputHeight);
        var tensors = new float[items.Count][];
        Parallel.For(0, items.Count, i =>
        {
            var rgba = ImageDecoder.DecodeRgba(File.ReadAllBytes(items[i].Path), items[i].Path, spec.InputWidth, spec.InputHeight, new FeaturizerOptions().MaxDecodePixels);
            tensors[i] = new float[preprocessor.TensorLength];
            preprocessor.Fill(rgba, tensors[i]);
        });
        return tensors;
    }

    /// <summary>Runs every tensor; each worker thread owns one session and takes the next unprocessed tensor.</summary>
    public float[][] Run(IReadOnlyList<float[]> tensors)
    {
        var outputs = new float[tensors.Count][];
        var next = -1;
        var workers = _sessions.Select(session => new Thread(() =>
        {
            using var runOptions = new RunOptions();
            string[] inputNames = [_spec.InputName], outputNames = [_spec.OutputName];
            int i;
            while ((i = Interlocked.Increment(ref next)) < tensors.Count)
            {
                using var value = OrtValue.CreateTensorValueFromMemory(tensors[i], _shape);
                using var results = session.Run(runOptions, inputNames, [value], outputNames);
                outputs[i] = results[0].GetTensorDataAsSpan<float>().ToArray();
            }
        })).ToArray();
        foreach (var w in workers)
        {
            w.Start();
        }

        foreach (var w in workers)
        {
            w.Join();
        }

        return outputs;
    }

    public void Dispose()
    {
        foreach (var s in _sessions)
        {
            s.Dispose();
        }

        _options.Dispose();
    }
}
