using System.Collections.Concurrent;
using Microsoft.ML.OnnxRuntime;
using PokeClassifier.Backbones.Onnx;

namespace PokeClassifier.Backbones;

/// <summary>
/// A pool of ONNX Runtime sessions over one backbone model. Several single-threaded sessions running side by side beat one
/// multi-threaded session on a shared CPU, and they also serve models whose batch size is fixed to 1.
/// </summary>
internal sealed class OnnxBackbone : IBackboneEngine
{
    private readonly ConcurrentBag<InferenceSession> _idle = [];
    private readonly SemaphoreSlim _available;
    private readonly List<InferenceSession> _all = [];
    private readonly long[] _inputShape;
    private readonly SessionOptions _options;
    private bool _disposed;

    /// <param name="spec">The backbone.</param>
    /// <param name="sessions">Sessions side by side.</param>
    /// <param name="intraOpThreads">Threads per session.</param>
    /// <param name="device">Where it runs; <see langword="null"/> for the CPU.</param>
    /// <param name="sessionConfig">ONNX Runtime session configuration entries (for example the bf16 fast-math GEMM); <see langword="null"/> for none.</param>
    public OnnxBackbone(BackboneSpec spec, int sessions, int intraOpThreads, ComputeDevice? device = null, IReadOnlyDictionary<string, string>? sessionConfig = null)
    {
        Spec = spec;
        if (!File.Exists(spec.ModelPath))
        {
            throw new ModelLoadException($"Backbone model '{spec.ModelPath}' does not exist.");
        }

        _options = new SessionOptions
        {
            IntraOpNumThreads = intraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        foreach (var (key, value) in sessionConfig ?? new Dictionary<string, string>())
        {
            _options.AddSessionConfigEntry(key, value);
        }

        if (device is { Kind: DeviceKind.Cuda })
        {
            AppendCuda(_options, device);
        }

        try
        {
            for (var i = 0; i < sessions; i++)
            {
                var session = new InferenceSession(spec.ModelPath, _options);
                _all.Add(session);
                _idle.Add(session);
            }
        }
        catch (OnnxRuntimeException e)
        {
            Dispose();
            throw new ModelLoadException($"Backbone model '{spec.ModelPath}' could not be loaded by ONNX Runtime: {e.Message}", e);
        }

        var first = _all[0];
        if (!first.InputMetadata.TryGetValue(spec.InputName, out var input) || !first.OutputMetadata.TryGetValue(spec.OutputName, out var output))
        {
            var message = $"Backbone model '{spec.ModelPath}' does not match its spec: expected input '{spec.InputName}' and output '{spec.OutputName}', " +
                          $"found inputs [{string.Join(", ", first.InputMetadata.Select(Describe))}] and outputs [{string.Join(", ", first.OutputMetadata.Select(Describe))}].";
            Dispose();
            throw new ModelLoadException(message);
        }

        // A symbolic batch (or a symbolic height and width) is run at 1 x spec size; the output's feature dimensions must match the
        // spec's shape, and when the model leaves them symbolic one trial run tells what they are.
        _inputShape = [1, 3, spec.InputHeight, spec.InputWidth];
        var inputProblem = OnnxModelInspector.InputProblem(input, spec.InputHeight, spec.InputWidth);
        var (batchOk, features) = OnnxModelInspector.SplitBatch(output.Dimensions);
        if (inputProblem is null && features.Any(d => d <= 0))
        {
            try
            {
                features = OnnxModelInspector.ProbeFeatureShape(first, spec.InputName, _inputShape, spec.OutputName);
            }
            catch (OnnxRuntimeException e)
            {
                Dispose();
                throw new ModelLoadException($"Backbone model '{spec.ModelPath}' failed on a {spec.InputWidth} x {spec.InputHeight} input: {e.Message}", e);
            }
        }

        if (inputProblem is not null || !batchOk || output.ElementType != typeof(float) || !OnnxModelInspector.ShapeFits(spec.FeatureShape, features))
        {
            var message = $"Backbone model '{spec.ModelPath}' does not match its spec: expected input {spec.InputName} [batch,3,{spec.InputHeight},{spec.InputWidth}] and output {spec.OutputName} [batch,{string.Join(",", spec.FeatureShape)}] with {spec.FeatureLength} values, " +
                          $"found input {OnnxModelInspector.Describe(input)} and output {OnnxModelInspector.Describe(output)} ({features.Aggregate(1L, (a, d) => a * d)} values)." +
                          (inputProblem is null ? string.Empty : $" The input {inputProblem}");
            Dispose();
            throw new ModelLoadException(message);
        }

        // As ML.NET's ONNX transform sees the output: symbolic dimensions become 1.
        OutputShape = output.Dimensions.Length >= 2 ? [Math.Max(1, output.Dimensions[0]), .. features] : features;
        _available = new SemaphoreSlim(sessions, sessions);
    }

    public BackboneSpec Spec { get; }

    /// <summary>The shape of the feature output as the model declares it (batch dimension included), as ML.NET sees it.</summary>
    public int[] OutputShape { get; private set; } = [];

    /// <summary>Runs one image tensor; cancellation also terminates a run in progress.</summary>
    public float[] Run(float[] tensor, CancellationToken cancellationToken)
    {
        var output = new float[Spec.FeatureLength];
        RunInto(tensor, output, cancellationToken);
        return output;
    }

    /// <summary>Runs one image tensor into <paramref name="output"/> (of the backbone's feature length).</summary>
    /// <param name="tensor">The input tensor, 3 x height x width.</param>
    /// <param name="output">Receives the features.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    public void RunInto(float[] tensor, Span<float> output, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _available.Wait(cancellationToken);
        _idle.TryTake(out var session);
        try
        {
            using var runOptions = new RunOptions();
            using var registration = cancellationToken.Register(() => runOptions.Terminate = true);
            using var value = OrtValue.CreateTensorValueFromMemory(tensor, _inputShape);
            try
            {
                using var results = session!.Run(runOptions, [Spec.InputName], [value], [Spec.OutputName]);
                var features = results[0].GetTensorDataAsSpan<float>();
                if (features.Length != output.Length)
                {
                    throw new InvalidOperationException($"Backbone '{Spec.Name}' returned {features.Length} values where {output.Length} were expected.");
                }

                features.CopyTo(output);
            }
            catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }
        }
        finally
        {
            _idle.Add(session!);
            _available.Release();
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var s in _all)
        {
            s.Dispose();
        }

        _options.Dispose();
        _available?.Dispose();
    }

    private static string Describe(KeyValuePair<string, NodeMetadata> kv) => $"{kv.Key} [{string.Join(",", kv.Value.Dimensions)}]";

    /// <summary>Adds ONNX Runtime's CUDA execution provider, or explains what the application lacks for it.</summary>
    internal static void AppendCuda(SessionOptions options, ComputeDevice device)
    {
        try
        {
            options.AppendExecutionProvider_CUDA(device.DeviceId);
        }
        catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
        {
            options.Dispose();
            throw new DeviceUnavailableException(CudaUnavailable(device, OrtEnv.Instance().GetAvailableProviders(), e.Message), e);
        }
    }

    /// <summary>
    /// Why CUDA could not be had: without the GPU ONNX Runtime in the application, which package to reference; with it (its CUDA
    /// provider is listed but did not load), which system libraries it needs.
    /// </summary>
    internal static string CudaUnavailable(ComputeDevice device, IReadOnlyList<string> providers, string ortMessage)
    {
        var head = $"Device {device} was asked for ONNX Runtime, but its CUDA execution provider cannot be used here (available providers: {string.Join(", ", providers)}). ";
        var tail = " Use ComputeDevice.Cpu (--device cpu) otherwise. ONNX Runtime said: " + ortMessage;
        return providers.Contains("CUDAExecutionProvider", StringComparer.Ordinal)
            ? head + "The application has the GPU ONNX Runtime, but its CUDA provider library did not load: it needs an NVIDIA driver with a " +
              "visible GPU and the CUDA 12 and cuDNN 9 libraries on the library path (LD_LIBRARY_PATH on Linux; see docs/benchmarks.md)." + tail
            : head + "The library references the CPU ONNX Runtime (Microsoft.ML.OnnxRuntime); for CUDA the application must reference " +
              "Microsoft.ML.OnnxRuntime.Gpu.Linux 1.31.0 (Microsoft.ML.OnnxRuntime.Gpu.Windows on Windows) and exclude the CPU package's native " +
              "files (<PackageReference Include=\"Microsoft.ML.OnnxRuntime\" ExcludeAssets=\"native\" />), on a machine with CUDA 12 and cuDNN 9 " +
              "(see docs/benchmarks.md, bench/gpu-check.sh)." + tail;
    }
}
