using System.Globalization;
using PokeClassifier.Backbones.Onnx;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PokeClassifier.Backbones.Torch;

/// <summary>
/// Writes the feature part of a torchvision-layout network (every <see cref="TorchArchitecture"/> with a
/// <see cref="TorchArchitecture.WriteGraph"/>: <c>resnet18</c>, <c>resnet50</c>, <c>vgg16</c>, <c>densenet201</c> and the Keras forms) as an ONNX graph
/// (opset 17) from its module structure and weights: input <c>input</c> [batch, 3, h, w], output <c>features</c> — exactly what
/// <see cref="TorchArchitecture.Features"/> computes. Nodes are named after the modules (<c>layer4.1.conv2</c>,
/// <c>features.denseblock4.denselayer32.conv2</c>), so a fine-tuning cut can be named the way torchvision users know.
/// The same graph serves ONNX export and, imported back by <see cref="OnnxTorchImporter"/>, fine-tuning.
/// </summary>
internal static class TorchGraphExporter
{
    public const string InputName = "input";
    public const string OutputName = "features";
    private const float TorchEpsilon = 1e-5f;

    /// <summary>Keras' DenseNet batch norms use this epsilon (torchvision's 1e-5 would shift every activation slightly).</summary>
    internal const float KerasDenseNetEpsilon = 1.001e-5f;

    /// <summary>The architectures it can write (those of the shared registry with a graph writer).</summary>
    public static IReadOnlyList<string> Architectures => TorchArchitecture.Names.Where(n => TorchArchitecture.Get(n).WriteGraph is not null).ToArray();

    /// <summary>Loads the spec's weights into its architecture and writes the graph.</summary>
    /// <exception cref="NotSupportedException">An architecture it cannot write (registered by a user).</exception>
    /// <exception cref="ModelLoadException">The weights cannot be loaded.</exception>
    public static byte[] Export(BackboneSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        TorchRuntime.EnsureInitialized();
        var architecture = TorchArchitecture.Get(spec.Architecture);
        CheckSupported(architecture);
        using var module = TorchCheckpoint.Load(architecture, spec.ModelPath);
        return Export(architecture.Name, module, spec.InputHeight, spec.InputWidth);
    }

    /// <summary>Writes the graph of a loaded module of the named architecture.</summary>
    /// <exception cref="ModelLoadException">No architecture has that name.</exception>
    /// <exception cref="NotSupportedException">The architecture has no graph writer.</exception>
    public static byte[] Export(string architecture, Module module, int height, int width)
    {
        ArgumentNullException.ThrowIfNull(module);
        var known = TorchArchitecture.Get(architecture);
        var write = CheckSupported(known);
        var state = module.state_dict();
        var w = new Writer(state, new OnnxGraphBuilder($"pokeclassifier_{known.Name}", producerName: "PokeClassifier"));
        w.Builder.AddInput(InputName, [OnnxDim.Batch, 3, height, width]);
        var output = write(w, height, width);
        w.Builder.AddOutput(OutputName, output);
        return w.Builder.ToBytes();
    }

    private static Func<Writer, int, int, IReadOnlyList<OnnxDim>> CheckSupported(TorchArchitecture architecture) =>
        architecture.WriteGraph ?? throw new NotSupportedException($"Architecture '{architecture.Name}' cannot be written as ONNX; the ONNX writer knows {string.Join(", ", Architectures)}.");

    /// <summary>torchvision's ResNet: basic blocks (resnet18/34) or bottlenecks (resnet50 and up, stride on the 3x3 convolution as torchvision does).</summary>
    internal static List<OnnxDim> ResNet(Writer w)
    {
        var x = w.Conv("conv1", InputName, stride: 2, pad: 3);
        x = w.Relu("relu", w.BatchNorm("bn1", x));
        x = w.MaxPool("maxpool", x, kernel: 3, stride: 2, pad: 1);
        for (var layer = 1; w.Has($"layer{layer}.0.conv1.weight"); layer++)
        {
            for (var block = 0; w.Has($"layer{layer}.{block}.conv1.weight"); block++)
            {
                var name = $"layer{layer}.{block}";
                var downsample = w.Has($"{name}.downsample.0.weight");
                var stride = downsample && layer > 1 ? 2 : 1;
                string y;
                if (w.Has($"{name}.conv3.weight"))
                {
                    y = w.Relu($"{name}.relu1", w.BatchNorm($"{name}.bn1", w.Conv($"{name}.conv1", x, stride: 1, pad: 0)));
                    y = w.Relu($"{name}.relu2", w.BatchNorm($"{name}.bn2", w.Conv($"{name}.conv2", y, stride, pad: 1)));
                    y = w.BatchNorm($"{name}.bn3", w.Conv($"{name}.conv3", y, stride: 1, pad: 0));
                }
                else
                {
                    y = w.Relu($"{name}.relu1", w.BatchNorm($"{name}.bn1", w.Conv($"{name}.conv1", x, stride, pad: 1)));
                    y = w.BatchNorm($"{name}.bn2", w.Conv($"{name}.conv2", y, stride: 1, pad: 1));
                }

                var identity = downsample ? w.BatchNorm($"{name}.downsample.1", w.Conv($"{name}.downsample.0", x, stride, pad: 0)) : x;
                x = w.Relu($"{name}.relu", w.Node("Add", $"{name}.add", [y, identity]));
            }
        }

        var pooled = w.Node("GlobalAveragePool", "avgpool", [x]);
        w.Node("Flatten", "flatten", [pooled], OutputName, OnnxAttribute.Int("axis", 1));
        return [OnnxDim.Batch, w.Channels("fc.weight", 1)];
    }

    /// <summary>torchvision's <c>vgg16.features</c> (also Keras' no-top VGG16, which is the same network).</summary>
    internal static List<OnnxDim> Vgg(Writer w, int height, int width)
    {
        var convs = w.State.Keys.Select(k => k.Split('.')).Where(p => p.Length == 3 && p[0] == "features" && p[2] == "weight")
            .Select(p => int.Parse(p[1], CultureInfo.InvariantCulture)).Order().ToArray();
        var x = InputName;
        for (var i = 0; i < convs.Length; i++)
        {
            var index = convs[i];
            x = w.Relu($"features.{index + 1}", w.Conv($"features.{index}", x, stride: 1, pad: 1));

            // torchvision's Sequential: conv, relu, then a max pool where the next conv is three places on (and after the last).
            var next = i + 1 < convs.Length ? convs[i + 1] : index + 3;
            if (next - index == 3)
            {
                x = w.MaxPool($"features.{index + 2}", x, kernel: 2, stride: 2, pad: 0, output: i + 1 == convs.Length ? OutputName : null);
            }
        }

        return [OnnxDim.Batch, w.Channels($"features.{convs[^1]}.weight", 0), height / 32, width / 32];
    }

    /// <summary>
    /// torchvision's DenseNet, or Keras' (<paramref name="keras"/>): batch-norm epsilon 1.001e-5, and the first max pool preceded by
    /// Keras' <c>ZeroPadding2D(1)</c> instead of torchvision's implicit -inf padding (the convolution's zero padding is the same in both).
    /// </summary>
    internal static List<OnnxDim> DenseNet(Writer w, bool keras)
    {
        w.Epsilon = keras ? KerasDenseNetEpsilon : TorchEpsilon;
        var x = w.Conv("features.conv0", InputName, stride: 2, pad: 3);
        x = w.Relu("features.relu0", w.BatchNorm("features.norm0", x));
        if (keras)
        {
            w.Builder.AddInt64Initializer("features.pool0.pads", [8], [0, 0, 1, 1, 0, 0, 1, 1]);
            x = w.Node("Pad", "features.pool0.pad", [x, "features.pool0.pads"], attributes: OnnxAttribute.String("mode", "constant"));
            x = w.MaxPool("features.pool0", x, kernel: 3, stride: 2, pad: 0);
        }
        else
        {
            x = w.MaxPool("features.pool0", x, kernel: 3, stride: 2, pad: 1);
        }

        for (var block = 1; w.Has($"features.denseblock{block}.denselayer1.conv1.weight"); block++)
        {
            var features = new List<string> { x };
            for (var layer = 1; w.Has($"features.denseblock{block}.denselayer{layer}.conv1.weight"); layer++)
            {
                var name = $"features.denseblock{block}.denselayer{layer}";
                var input = features.Count == 1 ? features[0] : w.Node("Concat", $"{name}.cat", features, attributes: OnnxAttribute.Int("axis", 1));
                var y = w.Relu($"{name}.relu1", w.BatchNorm($"{name}.norm1", input));
                y = w.Relu($"{name}.relu2", w.BatchNorm($"{name}.norm2", w.Conv($"{name}.conv1", y, stride: 1, pad: 0)));
                features.Add(w.Conv($"{name}.conv2", y, stride: 1, pad: 1));
            }

            x = w.Node("Concat", $"features.denseblock{block}", features, attributes: OnnxAttribute.Int("axis", 1));
            var transition = $"features.transition{block}";
            if (w.Has($"{transition}.conv.weight"))
            {
                x = w.Conv($"{transition}.conv", w.Relu($"{transition}.relu", w.BatchNorm($"{transition}.norm", x)), stride: 1, pad: 0);
                x = w.Node("AveragePool", $"{transition}.pool", [x], attributes: [OnnxAttribute.Ints("kernel_shape", 2, 2), OnnxAttribute.Ints("strides", 2, 2)]);
            }
        }

        x = w.Relu("features.relu5", w.BatchNorm("features.norm5", x));
        var pooled = w.Node("GlobalAveragePool", "avgpool", [x]);
        w.Node("Flatten", "flatten", [pooled], OutputName, OnnxAttribute.Int("axis", 1));
        return [OnnxDim.Batch, w.Channels("features.norm5.weight", 0)];
    }

    /// <summary>Adds nodes and their weights; tensors are named after the node that makes them.</summary>
    internal sealed class Writer(Dictionary<string, Tensor> state, OnnxGraphBuilder builder)
    {
        /// <summary>The batch norms' epsilon.</summary>
        public float Epsilon { get; set; } = TorchEpsilon;

        public Dictionary<string, Tensor> State => state;

        public OnnxGraphBuilder Builder => builder;

        public bool Has(string key) => state.ContainsKey(key);

        public long Channels(string key, int dim) => state[key].shape[dim];

        public string Node(string op, string name, IReadOnlyList<string> inputs, string? output = null, params OnnxAttribute[] attributes)
        {
            output ??= name;
            builder.AddNamedNode(op, name, inputs, [output], attributes);
            return output;
        }

        public string Conv(string name, string input, int stride, int pad)
        {
            var weight = Weight($"{name}.weight");
            var inputs = new List<string> { input, weight };
            if (Has($"{name}.bias"))
            {
                inputs.Add(Weight($"{name}.bias"));
            }

            var shape = state[$"{name}.weight"].shape;
            return Node("Conv", name, inputs, null,
                OnnxAttribute.Ints("kernel_shape", shape[2], shape[3]),
                OnnxAttribute.Ints("strides", stride, stride),
                OnnxAttribute.Ints("pads", pad, pad, pad, pad));
        }

        public string BatchNorm(string name, string input) =>
            Node("BatchNormalization", name, [input, Weight($"{name}.weight"), Weight($"{name}.bias"), Weight($"{name}.running_mean"), Weight($"{name}.running_var")], null,
                OnnxAttribute.Float("epsilon", Epsilon), OnnxAttribute.Float("momentum", 0.9f));

        public string Relu(string name, string input) => Node("Relu", name, [input]);

        public string MaxPool(string name, string input, int kernel, int stride, int pad, string? output = null) =>
            Node("MaxPool", name, [input], output,
                OnnxAttribute.Ints("kernel_shape", kernel, kernel), OnnxAttribute.Ints("strides", stride, stride), OnnxAttribute.Ints("pads", pad, pad, pad, pad));

        private string Weight(string key)
        {
            var t = state.TryGetValue(key, out var value) ? value : throw new ModelLoadException($"The network has no tensor '{key}'; it is not in torchvision's layout.");
            using var scope = NewDisposeScope();
            builder.AddInitializer(key, t.shape, t.detach().to(ScalarType.Float32).contiguous().data<float>().ToArray());
            return key;
        }
    }
}
