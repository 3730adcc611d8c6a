using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PokeClassifier.Backbones.Torch;

/// <summary>
/// A network that <see cref="BackboneEngine.TorchSharp"/> can build and load torchvision weights into: how to build it, which part
/// of it yields the features, and how checkpoint names map to its parameter names. Known by <see cref="BackboneSpec.Architecture"/>.
/// </summary>
internal sealed partial class TorchArchitecture
{
    private static readonly ConcurrentDictionary<string, TorchArchitecture> Known = new(StringComparer.OrdinalIgnoreCase);

    static TorchArchitecture()
    {
        Register(new TorchArchitecture
        {
            Name = "densenet201",
            Create = classes => DenseNet.DenseNet201(classes),
            Features = (module, input) => ((DenseNet)module).Features(input),
            ClassifierWeight = "classifier.weight",
            RenameKey = RenameLegacyDenseNetKey,
            WriteGraph = (w, height, width) => TorchGraphExporter.DenseNet(w, keras: false),
            Pretrained = PretrainedBackbones.Get("densenet201"),
        });
        Register(new TorchArchitecture
        {
            Name = "vgg16",
            Create = classes => torchvision.models.vgg16(num_classes: classes),

            // The convolutional map, 512 x (s/32) x (s/32): the study's VGG16 head flattens it.
            Features = (module, input) => Child(module, "features").call(input),
            ClassifierWeight = "classifier.6.weight",
            WriteGraph = TorchGraphExporter.Vgg,
            Pretrained = PretrainedBackbones.Get("vgg16"),
        });
        Register(new TorchArchitecture
        {
            Name = "resnet18",
            Create = classes => torchvision.models.resnet18(num_classes: classes),
            Features = ResNetFeatures,
            ClassifierWeight = "fc.weight",
            WriteGraph = (w, height, width) => TorchGraphExporter.ResNet(w),
            Pretrained = PretrainedBackbones.Get("resnet18"),
        });
        Register(new TorchArchitecture
        {
            Name = "resnet50",
            Create = classes => torchvision.models.resnet50(num_classes: classes),
            Features = ResNetFeatures,
            ClassifierWeight = "fc.weight",
            WriteGraph = (w, height, width) => TorchGraphExporter.ResNet(w),
            Pretrained = PretrainedBackbones.Get("resnet50"),
        });
        Register(new TorchArchitecture
        {
            Name = "densenet201-keras",
            Create = _ => DenseNet.DenseNet201Keras(),
            Features = (module, input) => ((DenseNet)module).Features(input),
            OptionalPrefix = "classifier.",
            ReadKeras = KerasWeights.ReadDenseNet,
            WriteGraph = (w, height, width) => TorchGraphExporter.DenseNet(w, keras: true),
            Pretrained = PretrainedBackbones.Get("densenet201-keras"),
        });
        Register(new TorchArchitecture
        {
            Name = "vgg16-keras",
            Create = _ => VggFeatures(),
            Features = (module, input) => Child(module, "features").call(input),
            ReadKeras = KerasWeights.ReadVgg16,
            WriteGraph = TorchGraphExporter.Vgg,
            Pretrained = PretrainedBackbones.Get("vgg16-keras"),
        });
    }

    /// <summary>
    /// Writes the feature part of a loaded module as ONNX nodes (input <c>input</c>, output <c>features</c>) and returns the output's
    /// shape; <see langword="null"/> when the architecture cannot be written (small networks tests register).
    /// </summary>
    public Func<TorchGraphExporter.Writer, int, int, IReadOnlyList<Onnx.OnnxDim>>? WriteGraph { get; init; }

    /// <summary>Where the architecture's ImageNet weights come from (the catalog entry of <see cref="BackboneSpec.Pretrained(string, int)"/>); <see langword="null"/> when none are published.</summary>
    public PretrainedWeights? Pretrained { get; init; }

    /// <summary>Reads a Keras <c>.h5</c> weights file into this architecture's (torchvision) names and layouts; <see langword="null"/> when the architecture has no Keras form.</summary>
    public Func<string, Dictionary<string, Tensor>>? ReadKeras { get; init; }

    /// <summary>Tensors under this prefix may be absent from a checkpoint (Keras' no-top files have no classifier); they keep their initial values.</summary>
    public string? OptionalPrefix { get; init; }

    /// <summary>The names of the architectures with published weights, which <see cref="BackboneSpec.Pretrained(string, int)"/> and the command line accept.</summary>
    public static IReadOnlyList<string> PretrainedNames => Known.Values.Where(a => a.Pretrained is not null).Select(a => a.Name).Order(StringComparer.Ordinal).ToArray();

    /// <summary>torchvision's <c>vgg16().features</c> alone (Keras' no-top VGG16 has nothing else): conv-ReLU pairs and five max pools, torchvision's indices.</summary>
    private static Module<Tensor, Tensor> VggFeatures()
    {
        int[] config = [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0];
        var layers = new List<(string, Module<Tensor, Tensor>)>();
        long channels = 3;
        foreach (var c in config)
        {
            if (c == 0)
            {
                layers.Add((layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), MaxPool2d(kernel_size: 2, stride: 2)));
                continue;
            }

            layers.Add((layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), Conv2d(channels, c, kernel_size: 3, padding: 1)));
            layers.Add((layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), ReLU(inplace: true)));
            channels = c;
        }

        return Sequential(("features", Sequential(layers)));
    }

    /// <summary>The name used in <see cref="BackboneSpec.Architecture"/> (torchvision's function name, such as <c>densenet201</c>).</summary>
    public required string Name { get; init; }

    /// <summary>Builds the network, randomly initialised, with a classifier of the given number of classes.</summary>
    public required Func<int, Module<Tensor, Tensor>> Create { get; init; }

    /// <summary>Runs the feature part of a network built by <see cref="Create"/> (batch dimension kept).</summary>
    public required Func<Module<Tensor, Tensor>, Tensor, Tensor> Features { get; init; }

    /// <summary>The classifier weight, whose first dimension is the number of classes of a checkpoint; <see langword="null"/> when there is none.</summary>
    public string? ClassifierWeight { get; init; }

    /// <summary>Maps a checkpoint's tensor name to the network's (for legacy names); the identity by default.</summary>
    public Func<string, string> RenameKey { get; init; } = static key => key;

    /// <summary>The architectures known, by name.</summary>
    public static IReadOnlyCollection<string> Names => Known.Keys.Order(StringComparer.Ordinal).ToArray();

    /// <summary>Adds or replaces an architecture (tests add small ones).</summary>
    public static void Register(TorchArchitecture architecture)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        Known[architecture.Name] = architecture;
    }

    /// <summary>The architecture called <paramref name="name"/>.</summary>
    /// <exception cref="ModelLoadException">No architecture has that name.</exception>
    public static TorchArchitecture Get(string? name)
    {
        if (string.IsNullOrWhiteSpace(name) || !Known.TryGetValue(name, out var architecture))
        {
            throw new ModelLoadException($"Unknown TorchSharp architecture '{name}'. Set BackboneSpec.Architecture to one of: {string.Join(", ", Names)}.");
        }

        return architecture;
    }

    /// <summary>The architecture called <paramref name="name"/>, or <see langword="null"/>.</summary>
    public static TorchArchitecture? TryGet(string? name) =>
        !string.IsNullOrWhiteSpace(name) && Known.TryGetValue(name, out var architecture) ? architecture : null;

    /// <summary>
    /// torchvision's published DenseNet checkpoints predate its current module names: <c>denselayer1.norm.1.weight</c> is now
    /// <c>denselayer1.norm1.weight</c>. torchvision renames them when loading; so does this.
    /// </summary>
    public static string RenameLegacyDenseNetKey(string key) => LegacyDenseNetKey().Replace(key, "$1$2");

    [GeneratedRegex(@"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$", RegexOptions.CultureInvariant)]
    private static partial Regex LegacyDenseNetKey();

    private static Module<Tensor, Tensor> Child(Module module, string name) =>
        (Module<Tensor, Tensor>)module.named_children().First(c => c.name == name).module;

    private static readonly string[] ResNetFeatureStages = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool"];

    // TorchVision's ResNet keeps its stages private; they are reached by their registered names, as in torchvision.
    private static Tensor ResNetFeatures(Module<Tensor, Tensor> module, Tensor input)
    {
        var x = input;
        foreach (var stage in ResNetFeatureStages)
        {
            var next = Child(module, stage).call(x);
            if (!ReferenceEquals(x, input) && !ReferenceEquals(next, x))
            {
                x.Dispose();
            }

            x = next;
        }

        using var pooled = x;
        return pooled.flatten(1);
    }
}
