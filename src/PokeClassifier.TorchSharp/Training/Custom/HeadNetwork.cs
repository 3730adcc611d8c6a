using System.Globalization;
using PokeClassifier.Backbones.Torch;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Sequential = TorchSharp.Modules.Sequential;

namespace PokeClassifier.Training.Custom;

/// <summary>
/// Builds the TorchSharp module of a <see cref="CustomHeadOptions"/> head: a <c>Sequential</c> of standard layers (and
/// <see cref="SeededDropout"/>) whose last layer, <c>classifier</c>, gives the logits. Weights start Glorot-uniform with zero
/// biases (Keras's defaults), drawn from a generator seeded with the run's seed.
/// </summary>
internal static class HeadNetwork
{
    /// <summary>The name of the layer that gives the logits.</summary>
    public const string ClassifierLayer = "classifier";

    /// <summary>Units of the hidden layer of <see cref="CustomHeadKind.FlattenDense256"/>.</summary>
    public const int Dense256Units = 256;

    /// <param name="options">The architecture.</param>
    /// <param name="exampleShape">One example's features without the batch dimension: [C] or [C, H, W].</param>
    /// <param name="classCount">Outputs.</param>
    /// <param name="seed">Seeds the initial weights and the dropout masks.</param>
    /// <exception cref="ArgumentException">The architecture does not fit the feature shape.</exception>
    public static Sequential Build(CustomHeadOptions options, IReadOnlyList<int> exampleShape, int classCount, int seed)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(exampleShape);
        options.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 2);
        if (exampleShape.Count == 0 || exampleShape.Any(d => d < 1))
        {
            throw new ArgumentException($"Feature shape [{string.Join(",", exampleShape)}] is not a shape a head can take.", nameof(exampleShape));
        }

        TorchRuntime.EnsureInitialized();
        var flat = exampleShape.Aggregate(1L, (a, b) => a * b);
        var layers = new List<(string, Module<Tensor, Tensor>)>();
        switch (options.Kind)
        {
            case CustomHeadKind.GlobalAveragePoolDense:
                if (exampleShape.Count == 3)
                {
                    layers.Add(("pool", AdaptiveAvgPool2d(1)));
                }
                else if (exampleShape.Count != 1)
                {
                    throw new ArgumentException($"Global average pooling needs features of shape [C] or [C, H, W]; these are [{string.Join(",", exampleShape)}].", nameof(exampleShape));
                }

                layers.Add(("flatten", Flatten()));
                layers.Add((ClassifierLayer, Linear(exampleShape[0], classCount)));
                break;
            case CustomHeadKind.FlattenDense256:
                layers.Add(("flatten", Flatten()));
                layers.Add(("dense", Linear(flat, Dense256Units)));
                layers.Add(("relu", ReLU()));
                layers.Add((ClassifierLayer, Linear(Dense256Units, classCount)));
                break;
            default:
                layers.Add(("flatten", Flatten()));
                var inputs = flat;
                for (var i = 0; i < options.HiddenSizes.Count; i++)
                {
                    var name = (i + 1).ToString(CultureInfo.InvariantCulture);
                    layers.Add(($"dense{name}", Linear(inputs, options.HiddenSizes[i])));
                    layers.Add(($"relu{name}", ReLU()));
                    if (options.Dropout > 0)
                    {
                        layers.Add(($"dropout{name}", new SeededDropout(options.Dropout, unchecked((ulong)seed + (ulong)i + 1))));
                    }

                    inputs = options.HiddenSizes[i];
                }

                layers.Add((ClassifierLayer, Linear(inputs, classCount)));
                break;
        }

        var network = Sequential(layers);
        Initialise(network, seed);
        return network;
    }

    /// <summary>Glorot-uniform weights (bound sqrt(6 / (fan_in + fan_out))) and zero biases for every linear layer, in layer order.</summary>
    private static void Initialise(Module network, int seed)
    {
        using var generator = new Generator(unchecked((ulong)seed));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (_, module) in network.named_modules())
        {
            if (module is TorchSharp.Modules.Linear linear)
            {
                var weight = linear.weight!;
                var bound = Math.Sqrt(6.0 / (weight.shape[0] + weight.shape[1]));
                weight.copy_((rand(weight.shape, generator: generator) * (2 * bound)) - bound);
                linear.bias?.zero_();
            }
        }
    }
}

/// <summary>
/// Inverted dropout that draws its masks from its own seeded generator, so training is reproducible even while other threads use
/// libtorch's global generator. Identity in eval mode (and in an ONNX export, like <c>nn.Dropout</c>).
/// </summary>
internal sealed class SeededDropout : Module<Tensor, Tensor>
{
    private readonly Generator _generator;
    private readonly ulong _seed;

    public SeededDropout(double probability, ulong seed)
        : base(nameof(SeededDropout))
    {
        Probability = probability;
        _seed = seed;
        _generator = new Generator(seed);
    }

    /// <summary>Draws the masks of an epoch from (seed, epoch), so a run resumed at that epoch draws the same masks.</summary>
    public void Reseed(int epoch) => _generator.manual_seed(unchecked((long)(_seed * 1_000_003UL) + epoch));

    public double Probability { get; }

    public override Tensor forward(Tensor input)
    {
        if (!training || Probability == 0)
        {
            return input.alias();
        }

        // The mask is drawn on the CPU from the module's own generator and moved to the input's device, so a run draws the same
        // masks on every device.
        var keep = rand(input.shape, generator: _generator).ge(Probability).to_type(input.dtype);
        return input * (input.device_type == TorchSharp.DeviceType.CPU ? keep : keep.to(input.device)) / (1 - Probability);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _generator.Dispose();
        }

        base.Dispose(disposing);
    }
}
