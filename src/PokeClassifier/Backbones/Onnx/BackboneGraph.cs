namespace PokeClassifier.Backbones.Onnx;

/// <summary>
/// A backbone as an ONNX graph, whatever its engine: the model file itself for ONNX Runtime backbones, the graph written from the
/// module structure for TorchSharp ones (the <c>PokeClassifier.TorchSharp</c> package's <c>TorchGraphExporter</c>). Exporting and fine-tuning both start here.
/// </summary>
/// <param name="Model">The graph.</param>
/// <param name="InputName">The image input.</param>
/// <param name="OutputName">The feature output.</param>
/// <param name="Source">Names the graph in messages (the model file).</param>
internal sealed record BackboneGraph(OnnxModel Model, string InputName, string OutputName, string Source)
{
    /// <summary>The graph of a resolved spec (its <see cref="BackboneSpec.ModelPath"/> must exist).</summary>
    /// <exception cref="ModelLoadException">The file cannot be read.</exception>
    /// <exception cref="NotSupportedException">A TorchSharp architecture that cannot be written as ONNX.</exception>
    public static BackboneGraph For(BackboneSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return spec.Engine == BackboneEngine.TorchSharp
            ? new BackboneGraph(OnnxModelReader.Read(TorchSharpPackage.Require($"The TorchSharp backbone '{spec.Name}'").ExportBackboneGraph(spec), spec.ModelPath), BackboneSpec.ExportInputName, BackboneSpec.ExportOutputName, spec.ModelPath)
            : new BackboneGraph(OnnxModelReader.Read(spec.ModelPath), spec.InputName, spec.OutputName, spec.ModelPath);
    }
}
