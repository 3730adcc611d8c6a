using System.Globalization;
using System.Text.RegularExpressions;
using PureHDF;
using PureHDF.VOL.Native;
using static TorchSharp.torch;

namespace PokeClassifier.Backbones.Torch;

/// <summary>
/// Reads the weights files of <c>keras.applications</c> (<c>*_notop.h5</c>, HDF5 written by Keras 2's <c>save_weights</c>, read here by
/// the pure .NET PureHDF) into torchvision's names and layouts, so the same TorchSharp module and ONNX writer serve both. The layout:
/// the root attribute <c>layer_names</c>; one group per layer (a name with <c>/</c>, such as <c>conv1/conv</c>, is a nested group);
/// its attribute <c>weight_names</c> (<c>conv1/conv/kernel:0</c>) names its datasets, relative to the layer's group. Convolution
/// kernels are HWIO (<c>[kh, kw, in, out]</c>) and become OIHW; batch norms hold <c>gamma, beta, moving_mean, moving_variance</c>.
/// </summary>
internal static partial class KerasWeights
{
    /// <summary>The HDF5 signature that starts every <c>.h5</c> file.</summary>
    private static readonly byte[] Signature = [0x89, (byte)'H', (byte)'D', (byte)'F', (byte)'\r', (byte)'\n', 0x1a, (byte)'\n'];

    /// <summary>Whether the file starts with the HDF5 signature.</summary>
    public static bool IsHdf5(ReadOnlySpan<byte> head) => head.Length >= Signature.Length && head[..Signature.Length].SequenceEqual(Signature);

    /// <summary>Keras' <c>DenseNet201(include_top=False)</c> weights as torchvision's <c>densenet201</c> state dict (without the classifier).</summary>
    public static Dictionary<string, Tensor> ReadDenseNet(string path) => Read(path, "DenseNet (Keras)", DenseNetName);

    /// <summary>Keras' <c>VGG16(include_top=False)</c> weights as torchvision's <c>vgg16().features</c> state dict.</summary>
    public static Dictionary<string, Tensor> ReadVgg16(string path) => Read(path, "VGG16 (Keras)", Vgg16Name);

    /// <summary>The torchvision module name of a Keras DenseNet layer, or null. Keras 3 renamed <c>conv1/conv</c> to <c>conv1_conv</c>; both are taken.</summary>
    internal static string? DenseNetName(string layer)
    {
        var name = layer.Replace('/', '_');
        switch (name)
        {
            case "conv1_conv":
                return "features.conv0";
            case "conv1_bn":
                return "features.norm0";
            case "bn":
                return "features.norm5";
        }

        if (DenseLayerName().Match(name) is { Success: true } layerMatch)
        {
            var block = int.Parse(layerMatch.Groups[1].Value, CultureInfo.InvariantCulture) - 1;
            var part = layerMatch.Groups[3].Value switch
            {
                "0_bn" => "norm1",
                "1_conv" => "conv1",
                "1_bn" => "norm2",
                _ => "conv2",
            };
            return $"features.denseblock{block}.denselayer{layerMatch.Groups[2].Value}.{part}";
        }

        return TransitionName().Match(name) is { Success: true } transition
            ? $"features.transition{int.Parse(transition.Groups[1].Value, CultureInfo.InvariantCulture) - 1}.{(transition.Groups[2].Value == "bn" ? "norm" : "conv")}"
            : null;
    }

    /// <summary>The torchvision module name of a Keras VGG16 layer (<c>block3_conv2</c> is <c>features.12</c>), or null.</summary>
    internal static string? Vgg16Name(string layer)
    {
        if (VggLayerName().Match(layer) is not { Success: true } match)
        {
            return null;
        }

        int[] convs = [2, 2, 3, 3, 3];
        var block = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        var conv = int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
        if (block is < 1 or > 5 || conv < 1 || conv > convs[block - 1])
        {
            return null;
        }

        // torchvision's Sequential: (conv, relu) per convolution and one pool per block.
        var index = 0;
        for (var b = 1; b < block; b++)
        {
            index += (2 * convs[b - 1]) + 1;
        }

        return string.Create(CultureInfo.InvariantCulture, $"features.{index + (2 * (conv - 1))}");
    }

    private static Dictionary<string, Tensor> Read(string path, string network, Func<string, string?> moduleName)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            using var file = H5File.OpenRead(path);
            IH5Group root = file;
            if (!root.AttributeExists("layer_names") && root.LinkExists("model_weights"))
            {
                root = root.Group("model_weights"); // a whole model saved with model.save(...)
            }

            if (!root.AttributeExists("layer_names"))
            {
                throw new ModelLoadException($"Weights file '{path}' is an HDF5 file but not Keras weights: it has no 'layer_names' attribute (Keras 2's save_weights and keras.applications write one).");
            }

            foreach (var layer in root.Attribute("layer_names").Read<string[]>())
            {
                var group = root.Group(layer);
                var weights = group.AttributeExists("weight_names") ? group.Attribute("weight_names").Read<string[]>() : [];
                if (weights.Length == 0)
                {
                    continue; // activations, pooling, padding, concatenation
                }

                var module = moduleName(layer) ?? throw new ModelLoadException(
                    $"Weights file '{path}' does not fit {network}: its first unexpected layer is '{layer}' (with {string.Join(", ", weights)}). Check that the file is this network's Keras weights.");
                foreach (var weight in weights)
                {
                    var dataset = group.Dataset(weight);
                    var key = module + "." + TorchName(weight, path, layer);
                    result[key] = ToTensor(dataset, weight);
                }
            }
        }
        catch
        {
            foreach (var t in result.Values)
            {
                t.Dispose();
            }

            throw;
        }

        return result;
    }

    /// <summary><c>kernel</c> becomes <c>weight</c> (a convolution), <c>gamma/beta/moving_mean/moving_variance</c> the batch norm's.</summary>
    private static string TorchName(string weight, string path, string layer)
    {
        var leaf = weight[(weight.LastIndexOf('/') + 1)..];
        var colon = leaf.IndexOf(':', StringComparison.Ordinal);
        return (colon < 0 ? leaf : leaf[..colon]) switch
        {
            "kernel" or "gamma" => "weight",
            "bias" or "beta" => "bias",
            "moving_mean" => "running_mean",
            "moving_variance" => "running_var",
            var other => throw new ModelLoadException($"Weights file '{path}': layer '{layer}' holds '{weight}', a kind of weight ('{other}') these networks do not have."),
        };
    }

    private static Tensor ToTensor(IH5Dataset dataset, string weight)
    {
        var dims = dataset.Space.Dimensions.Select(d => checked((long)d)).ToArray();
        float[] values = dataset.Type.Size == 8 ? Array.ConvertAll(dataset.Read<double[]>(), v => (float)v) : dataset.Read<float[]>();
        var t = tensor(values, dims);
        if (dims.Length != 4 || !weight.Contains("kernel", StringComparison.Ordinal))
        {
            return t;
        }

        // HWIO -> OIHW.
        using (t)
        {
            return t.permute(3, 2, 0, 1).contiguous();
        }
    }

    [GeneratedRegex(@"^conv(\d)_block(\d+)_(0_bn|1_conv|1_bn|2_conv)$", RegexOptions.CultureInvariant)]
    private static partial Regex DenseLayerName();

    [GeneratedRegex(@"^pool(\d)_(bn|conv)$", RegexOptions.CultureInvariant)]
    private static partial Regex TransitionName();

    [GeneratedRegex(@"^block(\d)_conv(\d)$", RegexOptions.CultureInvariant)]
    private static partial Regex VggLayerName();
}
