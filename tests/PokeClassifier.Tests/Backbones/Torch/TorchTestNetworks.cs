using System.Globalization;
using PokeClassifier.Backbones.Torch;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PokeClassifier.Tests.Backbones.Torch;

/// <summary>Small networks, inputs and fixtures shared by the TorchSharp tests.</summary>
internal static class TorchTestNetworks
{
    /// <summary>The test network of Fixtures/make_fixtures.py: conv-BN-ReLU-maxpool-conv-ReLU-global average pool, 16 features.</summary>
    public const string SmallCnn = "small-cnn";

    private static readonly Lazy<bool> Registered = new(() =>
    {
        TorchRuntime.EnsureInitialized();
        TorchArchitecture.Register(new TorchArchitecture
        {
            Name = SmallCnn,
            Create = _ => Sequential(
                Conv2d(3, 8, kernel_size: 3, padding: 1),
                BatchNorm2d(8),
                ReLU(),
                MaxPool2d(kernel_size: 2),
                Conv2d(8, 16, kernel_size: 3, stride: 2),
                ReLU(),
                AdaptiveAvgPool2d(1),
                Flatten()),
            Features = (module, input) => module.call(input),
        });
        return true;
    });

    /// <summary>Initialises TorchSharp and registers <see cref="SmallCnn"/>.</summary>
    public static void EnsureRegistered() => _ = Registered.Value;

    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Backbones", "Torch", "Fixtures", name);

    public static float[] ReadFloats(string fixture) =>
        File.ReadAllLines(Fixture(fixture)).Where(l => l.Length > 0).Select(l => float.Parse(l, CultureInfo.InvariantCulture)).ToArray();

    /// <summary>Element i of the 3 x h x w input is sin(0.37 i) * 1.5, as in make_fixtures.py.</summary>
    public static float[] InputValues(int height, int width) =>
        Enumerable.Range(0, 3 * height * width).Select(i => (float)(Math.Sin(0.37 * i) * 1.5)).ToArray();

    public static Tensor Input(int height, int width) => tensor(InputValues(height, width), [1, 3, height, width]);

    /// <summary>Features of <paramref name="module"/> for <see cref="Input"/>, flattened, with no tensor left behind.</summary>
    public static float[] Features(TorchArchitecture architecture, Module<Tensor, Tensor> module, int height, int width)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        module.eval();
        return architecture.Features(module, Input(height, width)).contiguous().data<float>().ToArray();
    }

    /// <summary>Largest absolute difference relative to the largest absolute expected value.</summary>
    public static double RelativeError(IReadOnlyList<float> expected, IReadOnlyList<float> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        var scale = expected.Max(v => Math.Abs((double)v));
        return expected.Zip(actual, (e, a) => Math.Abs((double)e - a)).Max() / Math.Max(scale, 1e-30);
    }

    /// <summary>The state dict as (name, tensor) pairs copied out of the module (the caller disposes them).</summary>
    public static Dictionary<string, Tensor> CopyStateDict(Module module, Func<string, bool>? keep = null) =>
        module.state_dict().Where(kv => keep?.Invoke(kv.Key) ?? true).ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
}
