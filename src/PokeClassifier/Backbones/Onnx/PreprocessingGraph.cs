using System.Security.Cryptography;

namespace PokeClassifier.Backbones.Onnx;

/// <summary>
/// A tiny ONNX graph that applies a backbone's per-channel preprocessing to ML.NET's extracted pixels (0..255, planes already in
/// the backbone's channel order): <c>x * (PixelScale / Std[c]) + (-Mean[c] / Std[c])</c>. ML.NET's <c>ExtractPixels</c> has one scale
/// and one offset for all channels, so torch-mode normalisation needs this to stay a pure ML.NET + ONNX model. The constants and the
/// order of operations are those of the managed <see cref="Preprocessor"/>, so both paths compute the same floats.
/// </summary>
internal static class PreprocessingGraph
{
    public const string InputName = "PokeClassifierPixels";
    public const string OutputName = "PokeClassifierNormalizedPixels";

    /// <summary>Whether the preprocessing leaves pixel values as they are (then no graph is needed).</summary>
    public static bool IsIdentity(ImagePreprocessing p) =>
        p.PixelScale == 1f && p.Mean.All(m => m == 0f) && p.Std.All(s => s == 1f);

    public static byte[] Build(ImagePreprocessing p, int width, int height)
    {
        var scale = new float[3];
        var offset = new float[3];
        for (var c = 0; c < 3; c++)
        {
            scale[c] = p.PixelScale / p.Std[c];
            offset[c] = -p.Mean[c] / p.Std[c];
        }

        return new OnnxGraphBuilder("pokeclassifier_preprocess")
            .AddInput(InputName, [1, 3, height, width])
            .AddInitializer("scale", [1, 3, 1, 1], scale)
            .AddInitializer("offset", [1, 3, 1, 1], offset)
            .AddNode("Mul", [InputName, "scale"], ["scaled"])
            .AddNode("Add", ["scaled", "offset"], [OutputName])
            .AddOutput(OutputName, [1, 3, height, width])
            .ToBytes();
    }

    /// <summary>Writes the graph to a content-addressed file in the temporary folder (ML.NET reads models from files and embeds them when saving).</summary>
    public static string WriteFile(ImagePreprocessing p, int width, int height)
    {
        var bytes = Build(p, width, height);
        var dir = Path.Combine(Path.GetTempPath(), "pokeclassifier-onnx");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, $"preprocess-{Convert.ToHexStringLower(SHA256.HashData(bytes))[..16]}.onnx");
        if (!File.Exists(path))
        {
            var temp = $"{path}.{Guid.NewGuid():N}.tmp";
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, path, overwrite: true);
        }

        return path;
    }
}
