using PokeClassifier.Backbones.Onnx;

namespace PokeClassifier.Training;

/// <summary>ONNX export of a whole classifier.</summary>
public sealed partial class TrainedClassifier
{
    /// <summary>
    /// Exports the classifier — preprocessing, backbone and head — as one ONNX model that ONNX Runtime (Python, JavaScript, mobile,
    /// .NET) runs with the library's probabilities. Input <c>pixels</c>: float32 <c>[batch, 3, H, W]</c>, RGB planes, values 0..255,
    /// the image already resized to the backbone's input size (stretched, alpha flattened onto white); outputs <c>probabilities</c>
    /// (float32 <c>[batch, classes]</c>, in <see cref="Classes"/> order) and <c>label</c> (string <c>[batch]</c>). The class labels
    /// and this contract are in the model's metadata (<c>pokeclassifier.classes</c>, <c>pokeclassifier.input</c>).
    /// </summary>
    /// <param name="path">The file to write (replaced atomically).</param>
    /// <param name="options">Input and output names; <see langword="null"/> for the defaults.</param>
    /// <exception cref="NotSupportedException">The head cannot be exported (LightGbm), or the backbone uses what the exporter cannot copy.</exception>
    public void ExportOnnx(string path, OnnxExportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new OnnxExportOptions();
        options.Validate();
        var format = HeadFormats.Find(_head.Kind) ?? throw new NotSupportedException($"A {HeadDescription} head cannot be exported to ONNX.");
        var bytes = OnnxClassifierExporter.Build(BackboneGraph.For(Backbone), Backbone, format.OnnxHead(_head), HeadDescription, Classes, options, flipAveraging: _featurizer.FlipAveraging);
        WriteAtomically(path, bytes);
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = $"{full}.{Guid.NewGuid():N}.tmp";
        try
        {
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
