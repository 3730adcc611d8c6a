namespace PokeClassifier.Backbones;

/// <summary>
/// The catalog of <see cref="BackboneSpec.Pretrained(string, int)"/>: each name's published ImageNet weights, as data. Building the
/// networks and converting the checkpoints is the <c>PokeClassifier.TorchSharp</c> package's (its <c>TorchArchitecture</c> of the same
/// name), so a spec can be described, cached and, once converted, run without TorchSharp.
/// </summary>
internal static class PretrainedBackbones
{
    private static readonly Dictionary<string, PretrainedWeights> Known = new(StringComparer.OrdinalIgnoreCase)
    {
        ["densenet201"] = PretrainedWeights.Torchvision("DenseNet201", "densenet201-c1103571.pth", _ => [1920]),

        // The convolutional map, 512 x (s/32) x (s/32): the study's VGG16 head flattens it.
        ["vgg16"] = PretrainedWeights.Torchvision("VGG16", "vgg16-397923af.pth", size => [512, size / 32, size / 32]),
        ["resnet18"] = PretrainedWeights.Torchvision("ResNet18", "resnet18-f37072fd.pth", _ => [512]),

        // torchvision's IMAGENET1K_V1 (V2 is resnet50-11ad3fa6.pth, trained with a newer recipe).
        ["resnet50"] = PretrainedWeights.Torchvision("ResNet50", "resnet50-0676ba61.pth", _ => [2048]),
        ["densenet201-keras"] = PretrainedWeights.Keras(
            "DenseNet201 (Keras)", "densenet201_weights_tf_dim_ordering_tf_kernels_notop.h5", "densenet/", "c13680b51ded0fb44dff2d8f86ac8bb1",
            ImagePreprocessing.TorchImageNet, "tf.keras.applications.DenseNet201(include_top=False, weights='imagenet')", _ => [1920]),
        ["vgg16-keras"] = PretrainedWeights.Keras(
            "VGG16 (Keras)", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", "vgg16/", "6d6bbae143d832006294945121d1f1fc",
            ImagePreprocessing.CaffeImageNet, "tf.keras.applications.VGG16(include_top=False, weights='imagenet')", size => [512, size / 32, size / 32]),
    };

    /// <summary>The names, in order.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Known.Keys.Order(StringComparer.Ordinal)];

    /// <summary>The canonical name and weights of <paramref name="name"/> (any case), or <see langword="null"/>.</summary>
    public static (string Name, PretrainedWeights Weights)? Find(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return null;
        }

        var key = Names.FirstOrDefault(n => string.Equals(n, name.Trim(), StringComparison.OrdinalIgnoreCase));
        return key is null ? null : (key, Known[key]);
    }

    /// <summary>The weights of <paramref name="name"/>, which must be in the catalog.</summary>
    public static PretrainedWeights Get(string name) => Find(name)?.Weights ?? throw new ArgumentException($"'{name}' is not in the pretrained catalog.", nameof(name));
}
