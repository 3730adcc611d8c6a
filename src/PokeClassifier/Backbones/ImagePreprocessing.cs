using System.Globalization;

namespace PokeClassifier.Backbones;

/// <summary>Order of the colour planes a backbone expects.</summary>
public enum ChannelOrder
{
    /// <summary>Red, green, blue (torchvision, Keras "torch" mode, ML.NET's ResNet18).</summary>
    Rgb,

    /// <summary>Blue, green, red (Caffe and Keras "caffe" mode).</summary>
    Bgr,
}

/// <summary>
/// How pixels become the backbone's input tensor (NCHW): <c>value = (pixel * PixelScale - Mean[c]) / Std[c] - MeanImage[c, y, x]</c>,
/// with pixel in 0..255 and the planes in <see cref="ChannelOrder"/>. Getting this wrong silently costs accuracy, so it is part of the backbone's identity.
/// </summary>
public sealed record ImagePreprocessing
{
    /// <summary>Plane order.</summary>
    public ChannelOrder ChannelOrder { get; init; } = ChannelOrder.Rgb;

    /// <summary>Factor applied to the 0..255 pixel value first (1/255 for models that take [0,1]).</summary>
    public float PixelScale { get; init; } = 1f;

    /// <summary>Per-plane mean subtracted after scaling, in <see cref="ChannelOrder"/>.</summary>
    public IReadOnlyList<float> Mean { get; init; } = [0f, 0f, 0f];

    /// <summary>Per-plane divisor applied after the mean, in <see cref="ChannelOrder"/>.</summary>
    public IReadOnlyList<float> Std { get; init; } = [1f, 1f, 1f];

    /// <summary>
    /// An ONNX model applied after scaling, in ML.NET's convention: it takes the planes in <see cref="ChannelOrder"/>, may reorder them and
    /// subtracts a mean image (ML.NET's ResNet18 ships one that turns RGB into BGR);
    /// <see langword="null"/> when there is none. Its mean image is read once and applied in managed code.
    /// </summary>
    public string? MeanImageModelPath { get; init; }

    /// <summary>torchvision / Keras "torch" mode: RGB in [0,1], ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).</summary>
    public static ImagePreprocessing TorchImageNet { get; } = new()
    {
        ChannelOrder = ChannelOrder.Rgb,
        PixelScale = 1f / 255f,
        Mean = [0.485f, 0.456f, 0.406f],
        Std = [0.229f, 0.224f, 0.225f],
    };

    /// <summary>Keras "caffe" mode (Keras VGG16): BGR in 0..255 minus 103.939 / 116.779 / 123.68.</summary>
    public static ImagePreprocessing CaffeImageNet { get; } = new()
    {
        ChannelOrder = ChannelOrder.Bgr,
        PixelScale = 1f,
        Mean = [103.939f, 116.779f, 123.68f],
        Std = [1f, 1f, 1f],
    };

    /// <summary>The preprocessing of a Keras-named mode: <see cref="TorchImageNet"/> or <see cref="CaffeImageNet"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An undefined mode.</exception>
    public static ImagePreprocessing For(PreprocessingMode mode) => mode switch
    {
        PreprocessingMode.Torch => TorchImageNet,
        PreprocessingMode.Caffe => CaffeImageNet,
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown preprocessing mode."),
    };

    /// <summary>A stable description, used in cache keys.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{ChannelOrder};scale={PixelScale:R};mean={string.Join('/', Mean.Select(m => m.ToString("R", CultureInfo.InvariantCulture)))};std={string.Join('/', Std.Select(m => m.ToString("R", CultureInfo.InvariantCulture)))};meanimage={(MeanImageModelPath is null ? "none" : "onnx")}");
}
