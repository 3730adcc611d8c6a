using PokeClassifier.Backbones.Onnx;

namespace PokeClassifier.Tests.Backbones;

/// <summary>Small real CNN backbones written with <see cref="OnnxGraphBuilder"/>, with fixed pseudo-random weights.</summary>
internal static class TestBackbones
{
    /// <summary>
    /// Conv 3x3/2 (3→8) → Relu → MaxPool 2 → Conv 3x3 (8→16) → Relu → GlobalAveragePool → Flatten → Gemm (16→<paramref name="features"/>):
    /// input <c>input</c> [batch,3,s,s], output <c>features</c> [batch,features].
    /// </summary>
    public static string Pooled(string dir, int size = 32, int features = 10, int seed = 1, string name = "pooled", bool symbolicBatch = true)
    {
        var rng = new Random(seed);
        OnnxDim batch = symbolicBatch ? OnnxDim.Batch : 1;
        var g = new OnnxGraphBuilder(name)
            .AddInput("input", [batch, 3, size, size])
            .AddInitializer("w1", [8, 3, 3, 3], Random(rng, 8 * 3 * 3 * 3, 0.5f))
            .AddInitializer("b1", [8], Random(rng, 8, 0.1f))
            .AddInitializer("w2", [16, 8, 3, 3], Random(rng, 16 * 8 * 3 * 3, 0.3f))
            .AddInitializer("b2", [16], Random(rng, 16, 0.1f))
            .AddInitializer("w3", [features, 16], Random(rng, features * 16, 0.5f))
            .AddInitializer("b3", [features], Random(rng, features, 0.1f))
            .AddNode("Conv", ["input", "w1", "b1"], ["c1"], OnnxAttribute.Ints("kernel_shape", 3, 3), OnnxAttribute.Ints("strides", 2, 2), OnnxAttribute.Ints("pads", 1, 1, 1, 1))
            .AddNode("Relu", ["c1"], ["r1"])
            .AddNode("MaxPool", ["r1"], ["p1"], OnnxAttribute.Ints("kernel_shape", 2, 2), OnnxAttribute.Ints("strides", 2, 2))
            .AddNode("Conv", ["p1", "w2", "b2"], ["c2"], OnnxAttribute.Ints("kernel_shape", 3, 3), OnnxAttribute.Ints("pads", 1, 1, 1, 1))
            .AddNode("Relu", ["c2"], ["r2"])
            .AddNode("GlobalAveragePool", ["r2"], ["gap"])
            .AddNode("Flatten", ["gap"], ["flat"], OnnxAttribute.Int("axis", 1))
            .AddNode("Gemm", ["flat", "w3", "b3"], ["features"], OnnxAttribute.Int("transB", 1))
            .AddOutput("features", [batch, features]);
        var path = Path.Combine(dir, name + ".onnx");
        g.Save(path);
        return path;
    }

    /// <summary>
    /// A VGG-like stand-in: MaxPool 2 → Conv 3x3 (3→8) → Relu → MaxPool to s/32 → Conv 1x1 (8→<paramref name="channels"/>) → Relu:
    /// output <c>features</c> [batch, channels, s/32, s/32], or channels-last when <paramref name="channelsLast"/>.
    /// </summary>
    public static string ConvMap(string dir, int size = 64, int channels = 512, int seed = 2, string name = "convmap", bool channelsLast = false)
    {
        var rng = new Random(seed);
        var map = size / 32;
        var g = new OnnxGraphBuilder(name)
            .AddInput("input", [OnnxDim.Batch, 3, size, size])
            .AddInitializer("w1", [8, 3, 3, 3], Random(rng, 8 * 3 * 3 * 3, 0.5f))
            .AddInitializer("w2", [channels, 8, 1, 1], Random(rng, channels * 8, 0.5f))
            .AddNode("MaxPool", ["input"], ["p0"], OnnxAttribute.Ints("kernel_shape", 2, 2), OnnxAttribute.Ints("strides", 2, 2))
            .AddNode("Conv", ["p0", "w1"], ["c1"], OnnxAttribute.Ints("kernel_shape", 3, 3), OnnxAttribute.String("auto_pad", "SAME_UPPER"))
            .AddNode("Relu", ["c1"], ["r1"])
            .AddNode("MaxPool", ["r1"], ["p1"], OnnxAttribute.Ints("kernel_shape", 16, 16), OnnxAttribute.Ints("strides", 16, 16))
            .AddNode("Conv", ["p1", "w2"], ["c2"], OnnxAttribute.Ints("kernel_shape", 1, 1))
            .AddNode("Relu", ["c2"], [channelsLast ? "r2" : "features"]);
        if (channelsLast)
        {
            g.AddNode("Transpose", ["r2"], ["features"], OnnxAttribute.Ints("perm", 0, 2, 3, 1));
            g.AddOutput("features", [OnnxDim.Batch, map, map, channels]);
        }
        else
        {
            g.AddOutput("features", [OnnxDim.Batch, channels, map, map]);
        }

        var path = Path.Combine(dir, name + ".onnx");
        g.Save(path);
        return path;
    }

    public static float[] Random(Random rng, int count, float scale) =>
        Enumerable.Range(0, count).Select(_ => (float)((rng.NextDouble() * 2) - 1) * scale).ToArray();
}
