using System.Globalization;
using PokeClassifier.Backbones.Onnx;

namespace PokeClassifier.Training.Custom;

/// <summary>The TorchSharp head's part of an ONNX export (<see cref="OnnxClassifierExporter"/> writes the rest).</summary>
internal static class TorchOnnxHeadWriter
{
    /// <summary>
    /// The head writer of a TorchSharp head (<see cref="HeadNetwork"/>'s layers): AdaptiveAvgPool2d(1) → GlobalAveragePool, Flatten →
    /// Flatten, Linear → Gemm, ReLU → Relu; dropout is the identity when scoring and is left out.
    /// </summary>
    /// <exception cref="NotSupportedException">A layer the writer does not know.</exception>
    public static OnnxClassifierExporter.HeadWriter Torch(TorchHead head)
    {
        ArgumentNullException.ThrowIfNull(head);
        var layers = new List<(string Op, float[]? Weight, long[]? Dims, float[]? Bias)>();
        using (var scope = TorchSharp.torch.NewDisposeScope())
        {
            foreach (var (name, layer) in head.Network.named_children())
            {
                switch (layer)
                {
                    case TorchSharp.Modules.AdaptiveAvgPool2d:
                        layers.Add(("GlobalAveragePool", null, null, null));
                        break;
                    case TorchSharp.Modules.Flatten:
                        layers.Add(("Flatten", null, null, null));
                        break;
                    case TorchSharp.Modules.ReLU:
                        layers.Add(("Relu", null, null, null));
                        break;
                    case SeededDropout or TorchSharp.Modules.Dropout:
                        break;
                    case TorchSharp.Modules.Linear linear:
                        var w = linear.weight!.detach().contiguous();
                        layers.Add(("Gemm", w.data<float>().ToArray(), w.shape, linear.bias?.detach().contiguous().data<float>().ToArray() ?? new float[w.shape[0]]));
                        break;
                    default:
                        throw new NotSupportedException($"The head's layer '{name}' ({layer.GetType().Name}) cannot be exported to ONNX.");
                }
            }
        }

        return (builder, features, prefix) =>
        {
            var current = features;
            for (var i = 0; i < layers.Count; i++)
            {
                var (op, weight, dims, bias) = layers[i];
                var output = string.Create(CultureInfo.InvariantCulture, $"{prefix}head{i}_{op}");
                var inputs = new List<string> { current };
                var attributes = new List<OnnxAttribute>();
                if (op == "Gemm")
                {
                    builder.AddInitializer(output + "_weight", dims!, weight!);
                    builder.AddInitializer(output + "_bias", [dims![0]], bias!);
                    inputs.Add(output + "_weight");
                    inputs.Add(output + "_bias");
                    attributes.Add(OnnxAttribute.Int("transB", 1));
                }
                else if (op == "Flatten")
                {
                    attributes.Add(OnnxAttribute.Int("axis", 1));
                }

                builder.AddNamedNode(op, output, inputs, [output], [.. attributes]);
                current = output;
            }

            return current;
        };
    }
}
