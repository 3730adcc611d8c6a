using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Onnx;

namespace PokeClassifier.Training;

/// <summary>
/// Writes a whole classifier as one ONNX model: pixels → preprocessing → backbone → head → <c>Softmax</c> (probabilities) →
/// <c>ArgMax</c> → <c>ai.onnx.ml</c> <c>LabelEncoder</c> (label), with the class labels and the input contract in the model's
/// metadata. See <see cref="TrainedClassifier.ExportOnnx(string, OnnxExportOptions?)"/>.
/// </summary>
internal static class OnnxClassifierExporter
{
    /// <summary>Metadata key of the class labels (a JSON array, in probability order).</summary>
    public const string ClassesKey = "pokeclassifier.classes";

    /// <summary>Metadata key of the input contract, in words.</summary>
    public const string InputKey = "pokeclassifier.input";

    /// <summary>Writes a head's logits from the feature tensor, naming what it adds with <paramref name="prefix"/>; returns the logits tensor.</summary>
    public delegate string HeadWriter(OnnxGraphBuilder builder, string features, string prefix);

    /// <summary>Builds the model's bytes.</summary>
    /// <param name="graph">The backbone graph.</param>
    /// <param name="backbone">The backbone spec (preprocessing, size, name).</param>
    /// <param name="head">Writes the head.</param>
    /// <param name="headDescription">For the metadata.</param>
    /// <param name="classes">The labels, in logit order.</param>
    /// <param name="options">Names.</param>
    /// <param name="nodes">A fine-tuned module's nodes, or <see langword="null"/> for the graph's own.</param>
    /// <param name="weights">Fine-tuned weights by initializer name, or <see langword="null"/>.</param>
    /// <param name="flipAveraging">Whether the head reads the mean of the image's and its mirror image's features (as it was trained).</param>
    public static byte[] Build(
        BackboneGraph graph, BackboneSpec backbone, HeadWriter head, string headDescription, IReadOnlyList<string> classes, OnnxExportOptions options,
        IReadOnlyList<OnnxNode>? nodes = null, IReadOnlyDictionary<string, float[]>? weights = null, bool flipAveraging = false)
    {
        options.Validate();
        var (builder, features, prefix) = OnnxPipelineWriter.Begin(graph, backbone.Preprocessing, backbone.InputWidth, backbone.InputHeight, options.InputName, nodes, weights);
        if (flipAveraging)
        {
            features = OnnxPipelineWriter.AddMirrorAverage(builder, graph, backbone.Preprocessing, backbone.InputWidth, backbone.InputHeight, options.InputName, features, prefix, nodes);
        }

        var logits = head(builder, features, prefix);
        builder.AddNamedNode("Softmax", prefix + "softmax", [logits], [options.ProbabilitiesName], OnnxAttribute.Int("axis", 1));
        builder.AddOutput(options.ProbabilitiesName, [OnnxDim.Batch, classes.Count]);
        if (options.LabelName is { } label)
        {
            var index = prefix + "class_index";
            builder.AddNamedNode("ArgMax", prefix + "argmax", [options.ProbabilitiesName], [index], OnnxAttribute.Int("axis", 1), OnnxAttribute.Int("keepdims", 0));
            builder.AddOpset("ai.onnx.ml", 2);
            builder.AddDomainNode("ai.onnx.ml", "LabelEncoder", prefix + "labels", [index], [label],
                OnnxAttribute.Ints("keys_int64s", [.. Enumerable.Range(0, classes.Count).Select(i => (long)i)]),
                OnnxAttribute.Strings("values_strings", [.. classes]),
                OnnxAttribute.String("default_string", string.Empty));
            builder.AddOutput(label, [OnnxDim.Batch], elementType: 8);
        }

        builder.AddMetadata(ClassesKey, JsonSerializer.Serialize(classes));
        builder.AddMetadata(InputKey, InputContract(backbone, options));
        builder.AddMetadata("pokeclassifier.backbone", backbone.Name);
        builder.AddMetadata("pokeclassifier.head", headDescription);
        return builder.ToBytes();
    }

    /// <summary>The input contract, as written into the metadata and the docs.</summary>
    public static string InputContract(BackboneSpec backbone, OnnxExportOptions options) =>
        $"{options.InputName}: float32 [batch,3,{backbone.InputHeight},{backbone.InputWidth}], RGB planes (NCHW), pixel values 0..255, " +
        $"the image resized to {backbone.InputWidth}x{backbone.InputHeight} (stretched) with any alpha flattened onto white; normalisation is inside the model.";

    /// <summary>The head writer of an ML.NET linear head (LbfgsMaximumEntropy, SdcaMaximumEntropy): Flatten → Gemm.</summary>
    /// <exception cref="NotSupportedException">Another trainer (LightGbm's trees have no export here).</exception>
    public static HeadWriter MLNetLinear(MLNetHead head)
    {
        ArgumentNullException.ThrowIfNull(head);
        var (weights, biases) = LinearWeights(head.Head, head.Classes.Count);
        var featureLength = weights.Length / head.Classes.Count;
        return (builder, features, prefix) =>
        {
            var flat = prefix + "features_flat";
            builder.AddNamedNode("Flatten", prefix + "flatten", [features], [flat], OnnxAttribute.Int("axis", 1));
            builder.AddInitializer(prefix + "head_weight", [head.Classes.Count, featureLength], weights);
            builder.AddInitializer(prefix + "head_bias", [head.Classes.Count], biases);
            var logits = prefix + "logits";
            builder.AddNamedNode("Gemm", prefix + "head", [flat, prefix + "head_weight", prefix + "head_bias"], [logits], OnnxAttribute.Int("transB", 1));
            return logits;
        };
    }

    /// <summary>The weights [classes, features] (row-major, class order = key order = the classifier's class order) and biases of a maximum-entropy head.</summary>
    /// <exception cref="NotSupportedException">The head is not a linear maximum-entropy model.</exception>
    internal static (float[] Weights, float[] Biases) LinearWeights(ITransformer head, int classes)
    {
        IEnumerable<ITransformer> parts = head is IEnumerable<ITransformer> chain ? chain : [head];
        foreach (var part in parts)
        {
            if (part is IPredictionTransformer<object> { Model: MaximumEntropyModelParameters model })
            {
                VBuffer<float>[] rows = [];
                model.GetWeights(ref rows, out var count);
                var biases = model.GetBiases().ToArray();
                if (count != classes || biases.Length != classes)
                {
                    throw new InvalidOperationException($"The ML.NET head has {count} classes; the classifier has {classes}.");
                }

                var length = rows[0].Length;
                var weights = new float[classes * length];
                for (var c = 0; c < classes; c++)
                {
                    rows[c].DenseValues().ToArray().CopyTo(weights, c * length);
                }

                return (weights, biases);
            }

            if (part is IPredictionTransformer<object> other)
            {
                throw new NotSupportedException($"The head's {other.Model.GetType().Name} cannot be exported to ONNX; only the linear ML.NET trainers (LbfgsMaximumEntropy, SdcaMaximumEntropy) and the TorchSharp heads can.");
            }
        }

        throw new NotSupportedException("The ML.NET head holds no predictor that can be exported to ONNX.");
    }
}
