namespace PokeClassifier.Backbones;

/// <summary>
/// Something that runs a backbone on one preprocessed NCHW image tensor and returns its feature output, flattened.
/// ONNX Runtime is one engine; others plug in through <see cref="BackboneEngines.Create"/>. Implementations are thread-safe.
/// </summary>
internal interface IBackboneEngine : IDisposable
{
    /// <summary>The backbone it runs.</summary>
    BackboneSpec Spec { get; }

    /// <summary>The feature output's shape, batch dimension included (as ML.NET would see the ONNX output).</summary>
    int[] OutputShape { get; }

    /// <summary>Runs one image tensor of length 3 x height x width.</summary>
    float[] Run(float[] tensor, CancellationToken cancellationToken);
}

/// <summary>Chooses the engine for a backbone.</summary>
internal static class BackboneEngines
{
    public static IBackboneEngine Create(BackboneSpec spec, int parallelism, int intraOpThreads, ComputeDevice? device = null, IReadOnlyDictionary<string, string>? sessionConfig = null) => spec.Engine switch
    {
        BackboneEngine.TorchSharp => TorchSharpPackage.Require($"The TorchSharp backbone '{spec.Name}'").CreateBackbone(spec, intraOpThreads, device),
        _ => new OnnxBackbone(spec, parallelism, intraOpThreads, device, sessionConfig),
    };
}
