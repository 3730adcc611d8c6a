using System.Diagnostics;
using PokeClassifier.Backbones.Torch;
using TorchSharp.PyBridge;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PokeClassifier.Tests.Backbones.Torch;

/// <summary>Builds each torchvision architecture once for all the tests of this class (VGG16's random initialisation takes seconds).</summary>
public sealed class TorchArchitectureFixture : IDisposable
{
    private readonly Dictionary<string, Module<Tensor, Tensor>> _modules = [];

    public TorchArchitectureFixture() => TorchRuntime.EnsureInitialized();

    public Module<Tensor, Tensor> Get(string architecture)
    {
        lock (_modules)
        {
            if (!_modules.TryGetValue(architecture, out var module))
            {
                module = TorchArchitecture.Get(architecture).Create(1000);
                module.eval();
                _modules[architecture] = module;
            }

            return module;
        }
    }

    public void Dispose()
    {
        foreach (var module in _modules.Values)
        {
            module.Dispose();
        }
    }
}

public sealed class TorchArchitectureTests(TorchArchitectureFixture networks, ITestOutputHelper output) : IClassFixture<TorchArchitectureFixture>
{
    [Theory]
    [InlineData("densenet201", 20_013_928L, new long[] { 1, 1920 })]
    [InlineData("vgg16", 138_357_544L, new long[] { 1, 512, 7, 7 })]
    [InlineData("resnet18", 11_689_512L, new long[] { 1, 512 })]
    public void Given_an_architecture_with_1000_classes_Then_it_has_torchvisions_parameter_count_and_state_dict_and_its_features_have_the_expected_shape(
        string architecture, long parameters, long[] featureShape)
    {
        var module = networks.Get(architecture);

        Assert.Equal(parameters, module.parameters().Sum(p => p.numel()));

        // Fixtures/<architecture>_state_dict.txt: torchvision 0.14's names and shapes (make_fixtures.py).
        var torchvision = File.ReadAllLines(TorchTestNetworks.Fixture($"{architecture}_state_dict.txt")).Where(l => l.Length > 0).Order(StringComparer.Ordinal).ToArray();
        var ours = module.state_dict().Select(kv => $"{kv.Key} {TorchCheckpoint.Shape(kv.Value)}").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(torchvision, ours);

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var input = TorchTestNetworks.Input(224, 224);
        var watch = Stopwatch.StartNew();
        var features = TorchArchitecture.Get(architecture).Features(module, input);
        output.WriteLine($"{architecture}: one forward at 224x224 on {get_num_threads()} thread(s): {watch.ElapsedMilliseconds} ms");
        Assert.Equal(featureShape, features.shape);
        Assert.True(features.isfinite().all().item<bool>());
    }

    [Fact]
    public void Given_torchvision_densenet201_with_deterministic_weights_When_the_same_weights_are_loaded_here_Then_the_features_agree()
    {
        // Fixtures/densenet201_expected.txt: torchvision 0.14's densenet201 features at 64x64 with these weights (make_fixtures.py).
        var architecture = TorchArchitecture.Get("densenet201");
        using var module = architecture.Create(1000);
        var weights = DeterministicWeights(module);
        try
        {
            TorchCheckpoint.CopyInto(module, weights, "densenet201", "deterministic weights");
        }
        finally
        {
            foreach (var t in weights.Values)
            {
                t.Dispose();
            }
        }

        var actual = TorchTestNetworks.Features(architecture, module, 64, 64);

        var expected = TorchTestNetworks.ReadFloats("densenet201_expected.txt");
        var error = TorchTestNetworks.RelativeError(expected, actual);
        output.WriteLine($"max |diff| / max |feature| = {error:E2}");
        Assert.True(error < 1e-4, $"relative error {error}");
    }

    [Fact]
    public void Given_a_DenseNet201_checkpoint_with_torchvisions_legacy_names_When_loaded_Then_it_is_renamed_and_gives_the_same_features()
    {
        var architecture = TorchArchitecture.Get("densenet201");
        var module = networks.Get("densenet201");
        // As torchvision published it (PyTorch 0.2): legacy names and no num_batches_tracked.
        var legacy = TorchTestNetworks.CopyStateDict(module, key => !key.EndsWith("num_batches_tracked", StringComparison.Ordinal))
            .ToDictionary(kv => LegacyName(kv.Key), kv => kv.Value);
        Assert.Contains("features.denseblock1.denselayer1.norm.1.weight", legacy.Keys);
        Assert.Contains("features.denseblock4.denselayer32.conv.2.weight", legacy.Keys);
        var path = Path.Combine(TestImages.NewTempDir("densenet"), "densenet201-legacy-names.pth");
        try
        {
            PyTorchPickler.PickleStateDict(path, legacy);
        }
        finally
        {
            foreach (var t in legacy.Values)
            {
                t.Dispose();
            }
        }

        using var loaded = TorchCheckpoint.Load(architecture, path);
        File.Delete(path); // 80 MB

        Assert.Equal(TorchTestNetworks.Features(architecture, module, 64, 64), TorchTestNetworks.Features(architecture, loaded, 64, 64));
        Assert.Equal("features.denseblock2.denselayer12.norm2.running_var", TorchArchitecture.RenameLegacyDenseNetKey("features.denseblock2.denselayer12.norm.2.running_var"));
        Assert.Equal("features.transition1.norm.weight", TorchArchitecture.RenameLegacyDenseNetKey("features.transition1.norm.weight"));
    }

    // The inverse of torchvision's rename: denselayerN.norm1.weight -> denselayerN.norm.1.weight.
    private static string LegacyName(string key) =>
        System.Text.RegularExpressions.Regex.Replace(key, @"(denselayer\d+\.(?:norm|relu|conv))([12])\.", "$1.$2.");

    /// <summary>make_fixtures.py's deterministic_weights: element i of tensor <c>key</c> from s = sin(0.7 i + j), j = Σ (k + 1) key[k] mod 997.</summary>
    private static Dictionary<string, Tensor> DeterministicWeights(Module module)
    {
        var result = new Dictionary<string, Tensor>();
        foreach (var (key, target) in module.state_dict())
        {
            var index = key.Select((c, k) => (k + 1) * (int)c).Sum() % 997;
            if (key.EndsWith("num_batches_tracked", StringComparison.Ordinal))
            {
                continue;
            }

            var shape = target.shape;
            var n = (int)target.numel();
            var values = new float[n];
            for (var i = 0; i < n; i++)
            {
                var s = Math.Sin((0.7 * i) + index);
                values[i] = (float)(key.EndsWith("running_var", StringComparison.Ordinal) ? 1 + (0.5 * Math.Abs(s))
                    : key.EndsWith("running_mean", StringComparison.Ordinal) || key.EndsWith("bias", StringComparison.Ordinal) ? 0.1 * s
                    : shape.Length == 4 ? s * Math.Sqrt(4.0 / (shape[1] * shape[2] * shape[3]))
                    : shape.Length == 1 ? 1 + (0.1 * s)
                    : 0.01 * s);
            }

            result[key] = tensor(values, shape);
        }

        return result;
    }
}
