using System.Globalization;
using System.Security.Cryptography;
using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Torch;
using PureHDF;
using TorchSharp.PyBridge;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PokeClassifier.Tests.Backbones.Torch;

/// <summary>
/// Checkpoints the tests write themselves: a registry architecture with random weights (and random batch-norm statistics), saved as a
/// real PyTorch <c>.pth</c> or as a Keras 2 <c>save_weights</c> <c>.h5</c> in keras.applications' layer and dataset names.
/// </summary>
internal static class TestCheckpoints
{
    /// <summary>The architecture built with seeded random weights and non-trivial batch-norm statistics, in eval mode.</summary>
    public static Module<Tensor, Tensor> RandomModule(string architecture, int seed)
    {
        TorchRuntime.EnsureInitialized();
        random.manual_seed(seed);
        var module = TorchArchitecture.Get(architecture).Create(1000);
        var generator = new Generator((ulong)seed);
        using (no_grad())
        {
            foreach (var (name, tensor) in module.state_dict())
            {
                if (name.EndsWith("running_mean", StringComparison.Ordinal))
                {
                    tensor.copy_(randn(tensor.shape, generator: generator) * 0.1);
                }
                else if (name.EndsWith("running_var", StringComparison.Ordinal))
                {
                    tensor.copy_(rand(tensor.shape, generator: generator) + 0.5);
                }
                else if (name.EndsWith(".bias", StringComparison.Ordinal))
                {
                    tensor.copy_(randn(tensor.shape, generator: generator) * 0.05);
                }
            }
        }

        module.eval();
        return module;
    }

    /// <summary>Saves the module's state dict as PyTorch's zip <c>.pth</c> (what <c>torch.save(model.state_dict())</c> writes).</summary>
    public static void WritePth(Module module, string path) => PyTorchPickler.PickleStateDict(path, module.state_dict());

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    public static string Md5(string path)
    {
        using var stream = File.OpenRead(path);
#pragma warning disable CA5351 // what Keras publishes
        return Convert.ToHexStringLower(MD5.HashData(stream));
#pragma warning restore CA5351
    }

    /// <summary>The catalog spec with its source replaced: the file served at <paramref name="url"/> under a torchvision-style name carrying its own hash prefix.</summary>
    public static BackboneSpec Served(BackboneSpec spec, string file, Uri? url, string? sha256Prefix = null, string? md5 = null) =>
        spec with { WeightSources = [spec.WeightSources[0] with { FileName = file, Url = url, Sha256 = sha256Prefix, Md5 = md5 }] };

    /// <summary>
    /// Writes <paramref name="module"/> (a <c>densenet201-keras</c> or <c>vgg16-keras</c> module) as Keras 2's <c>save_weights</c> does
    /// for keras.applications: the root attribute <c>layer_names</c> (every layer, weightless ones too), one group per layer (a name
    /// with '/' is a nested group), its attribute <c>weight_names</c>, and each weight as a dataset at that name inside the layer's
    /// group (<c>conv1/conv/conv1/conv/kernel:0</c>); kernels HWIO, batch norms gamma, beta, moving_mean, moving_variance.
    /// </summary>
    public static void WriteKerasH5(string architecture, Module module, string path)
    {
        var state = module.state_dict();
        var layers = architecture == "densenet201-keras" ? KerasDenseNet201Layers() : KerasVgg16Layers();
        var root = new H5File();
        foreach (var (layer, torch, kind) in layers)
        {
            string[] weights = kind switch
            {
                "conv" => [$"{layer}/kernel:0"],
                "conv+bias" => [$"{layer}/kernel:0", $"{layer}/bias:0"],
                "bn" => [$"{layer}/gamma:0", $"{layer}/beta:0", $"{layer}/moving_mean:0", $"{layer}/moving_variance:0"],
                _ => [],
            };
            var group = GroupAt(root, layer);
            group.Attributes["weight_names"] = weights;
            foreach (var weight in weights)
            {
                var leaf = weight[(weight.LastIndexOf('/') + 1)..weight.IndexOf(':', StringComparison.Ordinal)];
                var source = state[torch + "." + leaf switch
                {
                    "kernel" or "gamma" => "weight",
                    "bias" or "beta" => "bias",
                    "moving_mean" => "running_mean",
                    _ => "running_var",
                }];
                using var scope = NewDisposeScope();
                var value = leaf == "kernel" ? source.permute(2, 3, 1, 0).contiguous() : source.contiguous(); // OIHW -> HWIO
                var data = value.data<float>().ToArray();
                var dims = value.shape.Select(d => (ulong)d).ToArray();
                var parent = GroupAt(group, weight[..weight.LastIndexOf('/')]);
                parent[weight[(weight.LastIndexOf('/') + 1)..]] = new H5Dataset(data, fileDims: dims);
            }
        }

        root.Attributes["layer_names"] = layers.Select(l => l.Layer).ToArray();
        root.Attributes["backend"] = "tensorflow";
        root.Attributes["keras_version"] = "2.2.4";
        root.Write(path);
    }

    private static H5Group GroupAt(H5Group root, string path)
    {
        var group = root;
        foreach (var part in path.Split('/'))
        {
            if (!group.TryGetValue(part, out var child))
            {
                child = new H5Group();
                group[part] = child;
            }

            group = (H5Group)child;
        }

        return group;
    }

    /// <summary>keras.applications.DenseNet201's layers in model order (Keras 2 names), with the torchvision module holding each one's weights.</summary>
    private static List<(string Layer, string Torch, string Kind)> KerasDenseNet201Layers()
    {
        var layers = new List<(string, string, string)>
        {
            ("zero_padding2d_1", string.Empty, "none"),
            ("conv1/conv", "features.conv0", "conv"),
            ("conv1/bn", "features.norm0", "bn"),
            ("conv1/relu", string.Empty, "none"),
            ("zero_padding2d_2", string.Empty, "none"),
            ("pool1", string.Empty, "none"),
        };
        int[] blocks = [6, 12, 48, 32];
        for (var b = 0; b < blocks.Length; b++)
        {
            var keras = (b + 2).ToString(CultureInfo.InvariantCulture);
            for (var l = 1; l <= blocks[b]; l++)
            {
                var name = $"conv{keras}_block{l}";
                var torch = $"features.denseblock{b + 1}.denselayer{l}";
                layers.Add(($"{name}_0_bn", $"{torch}.norm1", "bn"));
                layers.Add(($"{name}_0_relu", string.Empty, "none"));
                layers.Add(($"{name}_1_conv", $"{torch}.conv1", "conv"));
                layers.Add(($"{name}_1_bn", $"{torch}.norm2", "bn"));
                layers.Add(($"{name}_1_relu", string.Empty, "none"));
                layers.Add(($"{name}_2_conv", $"{torch}.conv2", "conv"));
                layers.Add(($"{name}_concat", string.Empty, "none"));
            }

            if (b < blocks.Length - 1)
            {
                layers.Add(($"pool{keras}_bn", $"features.transition{b + 1}.norm", "bn"));
                layers.Add(($"pool{keras}_relu", string.Empty, "none"));
                layers.Add(($"pool{keras}_conv", $"features.transition{b + 1}.conv", "conv"));
                layers.Add(($"pool{keras}_pool", string.Empty, "none"));
            }
        }

        layers.Add(("bn", "features.norm5", "bn"));
        layers.Add(("relu", string.Empty, "none"));
        return layers;
    }

    /// <summary>keras.applications.VGG16's layers in model order, with torchvision's <c>features.N</c> for each convolution.</summary>
    private static List<(string Layer, string Torch, string Kind)> KerasVgg16Layers()
    {
        var layers = new List<(string, string, string)> { ("input_1", string.Empty, "none") };
        int[] convs = [2, 2, 3, 3, 3];
        var index = 0;
        for (var b = 1; b <= 5; b++)
        {
            for (var c = 1; c <= convs[b - 1]; c++)
            {
                layers.Add(($"block{b}_conv{c}", $"features.{index}", "conv+bias"));
                index += 2;
            }

            layers.Add(($"block{b}_pool", string.Empty, "none"));
            index++;
        }

        return layers;
    }
}
