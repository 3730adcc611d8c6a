namespace PokeClassifier.Backbones;

/// <summary>
/// A pretrained backbone described as data: its model file, input size, preprocessing and the feature output it yields.
/// </summary>
public sealed partial record BackboneSpec
{
    private readonly int[]? _featureShape;

    /// <summary>Display name (also part of the cache key).</summary>
    public required string Name { get; init; }

    /// <summary>Which engine runs the backbone.</summary>
    /// <value>The default is <see cref="BackboneEngine.OnnxRuntime"/>.</value>
    public BackboneEngine Engine { get; init; } = BackboneEngine.OnnxRuntime;

    /// <summary>The model file: an ONNX graph for <see cref="BackboneEngine.OnnxRuntime"/>, a weights file (<c>.pth</c>, <c>.safetensors</c>) for <see cref="BackboneEngine.TorchSharp"/>.</summary>
    public required string ModelPath { get; init; }

    /// <summary>The architecture for <see cref="BackboneEngine.TorchSharp"/> (for example <c>densenet201</c>); <see langword="null"/> for ONNX.</summary>
    public string? Architecture { get; init; }

    /// <summary>Name of the model input that takes the image tensor (ONNX).</summary>
    public string InputName { get; init; } = "input";

    /// <summary>Name of the model output used as the feature vector (ONNX).</summary>
    public string OutputName { get; init; } = "features";

    /// <summary>Input width in pixels.</summary>
    public int InputWidth { get; init; } = 224;

    /// <summary>Input height in pixels.</summary>
    public int InputHeight { get; init; } = 224;

    /// <summary>Number of values in the feature vector (the output flattened).</summary>
    public required int FeatureLength { get; init; }

    /// <summary>How pixels are turned into the input tensor.</summary>
    public required ImagePreprocessing Preprocessing { get; init; }

    /// <summary>
    /// Where the model file comes from: alternatives (mirrors or formats) tried in order by <see cref="WeightStore"/>, each with its
    /// checksum. Empty when <see cref="ModelPath"/> is all there is. A spec with sources and an empty <see cref="ModelPath"/> is
    /// resolved from the weight cache (or downloaded) before use.
    /// </summary>
    /// <value>The default is empty.</value>
    public IReadOnlyList<WeightSource> WeightSources { get; init; } = [];

    /// <summary>
    /// The shape of the feature output, batch dimension excluded: <c>[1920]</c> for DenseNet201's pooled features, <c>[512, 7, 7]</c>
    /// for VGG16's last convolutional map at 224 x 224, <c>[512]</c> for ResNet18. Its product is <see cref="FeatureLength"/>.
    /// A one-dimensional shape accepts any model output with that many values; a longer one must match the output's dimensions
    /// (ignoring dimensions of size 1), so a channels-last export is caught.
    /// </summary>
    /// <value>The default is <c>[FeatureLength]</c>.</value>
    public IReadOnlyList<int> FeatureShape
    {
        get => _featureShape ?? [FeatureLength];
        init => _featureShape = value is null ? null : [.. value];
    }

    /// <summary>
    /// ImageNet-pretrained ResNet18 (512 pooled features) as shipped by the <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> package,
    /// available offline. Its preprocessing is ML.NET's: RGB planes in 0..255 minus the mean image of <c>ResNetPreprocess.onnx</c>.
    /// </summary>
    /// <exception cref="ModelLoadException">The model files cannot be found.</exception>
    public static BackboneSpec ResNet18 => ResNet18Files.Spec();

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({InputWidth}x{InputHeight} -> {FeatureLength} features, {ModelPath})";
}

/// <summary>The engine that runs a backbone.</summary>
public enum BackboneEngine
{
    /// <summary>ONNX Runtime, from an ONNX graph.</summary>
    OnnxRuntime,

    /// <summary>TorchSharp (libtorch), from a torchvision-layout module and its weights.</summary>
    TorchSharp,
}
