using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Onnx;
using PokeClassifier.Backbones.Torch;
using static TorchSharp.torch;

namespace PokeClassifier.Training.FineTuning;

/// <summary>
/// The frozen part of a fine-tuned backbone (its nodes before the cut) as an ONNX model that ONNX Runtime runs: 0..255 RGB pixels in
/// (the backbone's preprocessing inside), the one tensor that crosses the cut out. The frozen part never changes, so it needs no
/// autograd graph, and ONNX Runtime's pool of single-threaded sessions runs it several times faster than libtorch on a small CPU
/// (<c>docs/fine-tuning.md</c>); the trained part runs in TorchSharp.
/// </summary>
internal sealed class FrozenPrefix : IDisposable
{
    private const string PixelInput = "pixels";
    private readonly OnnxBackbone _engine;

    private FrozenPrefix(OnnxBackbone engine, int size, IReadOnlyList<long> shape)
    {
        _engine = engine;
        Size = size;
        Shape = shape;
    }

    /// <summary>The square input size.</summary>
    public int Size { get; }

    /// <summary>The shape of one image's activations (no batch dimension).</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>Sessions side by side (each runs one image at a time).</summary>
    public int Parallelism { get; private init; }

    /// <summary>
    /// Writes the frozen part of <paramref name="module"/> (nodes before <paramref name="cut"/>) by content hash into
    /// <paramref name="directory"/> and opens it; <see langword="null"/> when the graph cannot be written as ONNX (the caller then runs
    /// the frozen part in TorchSharp).
    /// </summary>
    public static FrozenPrefix? TryCreate(
        BackboneGraph graph, OnnxGraphModule module, int cut, ImagePreprocessing preprocessing, int size, string directory, int sessions)
    {
        var frontier = module.Frontier(cut);
        if (cut <= 0 || frontier.Count != 1)
        {
            return null;
        }

        long[] shape;
        using (NewDisposeScope())
        using (no_grad())
        {
            module.eval();
            shape = module.RunPrefix(zeros(1, 3, size, size), cut)[frontier[0]].shape[1..];
        }

        string path;
        try
        {
            var (builder, _, _) = OnnxPipelineWriter.Begin(graph, preprocessing, size, size, PixelInput, module.Nodes.Take(cut).ToList());
            builder.AddOutput(frontier[0], [OnnxDim.Batch, .. shape.Select(d => (OnnxDim)checked((int)d))]);
            path = builder.SaveByContent(directory, "frozen-");
        }
        catch (NotSupportedException)
        {
            return null;
        }

        var length = checked((int)shape.Aggregate(1L, (a, d) => a * d));
        var spec = new BackboneSpec
        {
            Name = $"{graph.Source} frozen part",
            ModelPath = path,
            InputName = PixelInput,
            OutputName = frontier[0],
            InputWidth = size,
            InputHeight = size,
            FeatureLength = length,
            FeatureShape = shape.Select(d => (int)d).ToArray(),
            Preprocessing = new ImagePreprocessing(),
        };
        return new FrozenPrefix(new OnnxBackbone(spec, sessions, intraOpThreads: 1), size, shape) { Parallelism = sessions };
    }

    /// <summary>
    /// Runs one image (its RGB planes [3, Size, Size] as bytes 0..255, mirrored or not) into <paramref name="output"/>, using <paramref name="input"/> (of the planes'
    /// length) as the input tensor: both are the caller's, reused from row to row, so the frozen pass allocates no large arrays
    /// per row (at 288 px a row would put 1.2 MB on the large-object heap, and the process's peak would depend on when the
    /// collector runs).
    /// </summary>
    public void Run(byte[] planes, bool mirrored, float[] input, Span<float> output, CancellationToken cancellationToken)
    {
        var size = Size;
        for (var row = 0; row < planes.Length / size; row++)
        {
            var offset = row * size;
            for (var x = 0; x < size; x++)
            {
                input[offset + x] = planes[offset + (mirrored ? size - 1 - x : x)];
            }
        }

        _engine.RunInto(input, output, cancellationToken);
    }

    public void Dispose() => _engine.Dispose();
}
