namespace PokeClassifier.Backbones.Onnx;

/// <summary>
/// Writes the multi-layer variant of a backbone (<see cref="Features.FeaturizerOptions.MultiLayerFeatures"/>): the same graph with a
/// second feature block, the global average of the tensor that enters the backbone's last stage, concatenated after its output. The
/// last stage starts at the first convolution (in graph order) with as many output channels as the backbone's output has features
/// (ResNet: the first convolution of the last stage, whose input is the previous stage's output; VGG: the first 512-channel
/// convolution). The model is written once by content hash and is a backbone like any other: its own identity in the feature
/// cache, saved inside models, exported.
/// </summary>
internal static class MultiLayerModel
{
    /// <summary>The folder name the models are written to.</summary>
    public const string FolderName = "multi-layer";

    private const string OutputName = "pokeclassifier/multi_layer_features";

    /// <summary>The spec of the multi-layer variant of <paramref name="spec"/>, written into <paramref name="directory"/> when missing.</summary>
    /// <exception cref="NotSupportedException">The graph has no convolution as wide as its output (DenseNet's last convolutions are 32 wide), so it has no last stage to pool.</exception>
    public static BackboneSpec Ensure(BackboneSpec spec, string directory)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var graph = BackboneGraph.For(spec);
        var width = spec.FeatureShape.Count > 0 ? spec.FeatureShape[0] : spec.FeatureLength;
        var (stageInput, channels) = LastStageInput(graph, width)
            ?? throw new NotSupportedException($"Backbone '{spec.Name}' has no convolution with {width} output channels (as many as its features), so multi-layer features cannot find its last stage; turn {nameof(Features.FeaturizerOptions.MultiLayerFeatures)} off for it.");

        var (builder, features, prefix) = OnnxPipelineWriter.Begin(graph, new ImagePreprocessing(), spec.InputWidth, spec.InputHeight, graph.InputName);
        builder.AddNamedNode("Flatten", prefix + "flatten_output", [features], [prefix + "output_flat"], OnnxAttribute.Int("axis", 1));
        builder.AddNamedNode("GlobalAveragePool", prefix + "pool_stage", [stageInput], [prefix + "stage_pooled"]);
        builder.AddNamedNode("Flatten", prefix + "flatten_stage", [prefix + "stage_pooled"], [prefix + "stage_flat"], OnnxAttribute.Int("axis", 1));
        builder.AddNamedNode("Concat", prefix + "concat", [prefix + "output_flat", prefix + "stage_flat"], [OutputName], OnnxAttribute.Int("axis", 1));
        var length = spec.FeatureLength + channels;
        builder.AddOutput(OutputName, [OnnxDim.Batch, length]);
        var path = builder.SaveByContent(directory);

        return new BackboneSpec
        {
            Name = $"{spec.Name} multi-layer",
            Engine = BackboneEngine.OnnxRuntime,
            ModelPath = path,
            InputName = graph.InputName,
            OutputName = OutputName,
            InputWidth = spec.InputWidth,
            InputHeight = spec.InputHeight,
            FeatureLength = length,
            FeatureShape = [length],
            Preprocessing = spec.Preprocessing,
        };
    }

    /// <summary>The tensor entering the first convolution with <paramref name="width"/> output channels, and its channel count.</summary>
    internal static (string Tensor, int Channels)? LastStageInput(BackboneGraph graph, int width)
    {
        var initializers = graph.Model.Graph.Initializers;
        foreach (var node in graph.Model.Graph.Nodes.Where(n => n.OpType == "Conv" && n.Inputs.Count >= 2))
        {
            if (!initializers.TryGetValue(node.Inputs[1], out var weight) || weight.Dims.Length != 4 || weight.Dims[0] != width)
            {
                continue;
            }

            var group = node.Attribute("group")?.IntValue ?? 1;
            return (node.Inputs[0], checked((int)(weight.Dims[1] * group)));
        }

        return null;
    }
}
