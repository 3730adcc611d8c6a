using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PokeClassifier.Backbones.Torch;

/// <summary>
/// Runs a frozen torchvision-layout network through TorchSharp: built from <see cref="BackboneSpec.Architecture"/>, loaded from the
/// weights in <see cref="BackboneSpec.ModelPath"/>, in eval mode, each call under <c>no_grad</c> in its own dispose scope so no
/// tensor outlives it. Returns the same kind of output as <see cref="OnnxBackbone"/> (one image in, the feature map or vector with
/// its batch dimension), so <see cref="Features.ImageFeaturizer"/> and its cache treat both engines alike.
/// </summary>
/// <remarks>
/// One module serves every thread: in eval mode under no_grad a forward pass only reads the weights (batch norm uses its running
/// statistics), every intermediate tensor belongs to the calling thread's dispose scope, and libtorch's operators are re-entrant.
/// Measured on the shared 2-core machine: two threads on one ResNet18 gave features bit-identical to one thread (24 images, three
/// runs) at 1.1-1.7x its throughput. Replicas would multiply memory (VGG16 holds 528 MB of weights) for nothing.
/// </remarks>
internal sealed class TorchBackbone : IBackboneEngine
{
    private readonly Module<Tensor, Tensor> _module;
    private readonly TorchArchitecture _architecture;
    private readonly long[] _inputShape;
    private readonly Device _device;
    private bool _disposed;

    /// <exception cref="ModelLoadException">Unknown architecture, missing or unfitting weights, or features of another length than the spec says.</exception>
    /// <exception cref="PokeClassifierException">TorchSharp cannot load on this system.</exception>
    /// <exception cref="DeviceUnavailableException">CUDA was asked for and libtorch has none.</exception>
    public TorchBackbone(BackboneSpec spec, int intraOpThreads, ComputeDevice? device = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        TorchRuntime.EnsureInitialized(intraOpThreads);
        _device = TorchRuntime.Device(device ?? ComputeDevice.Cpu);
        Spec = spec;
        _architecture = TorchArchitecture.Get(spec.Architecture);
        _inputShape = [1, 3, spec.InputHeight, spec.InputWidth];
        _module = TorchCheckpoint.Load(_architecture, spec.ModelPath);
        try
        {
            _module.to(_device);
            _module.eval();
            foreach (var parameter in _module.parameters())
            {
                parameter.requires_grad = false;
            }

            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var probe = Forward(zeros(_inputShape, device: _device));
            OutputShape = probe.shape.Select(d => checked((int)d)).ToArray();
            if (probe.numel() != spec.FeatureLength)
            {
                throw new ModelLoadException(string.Create(CultureInfo.InvariantCulture,
                    $"Backbone '{spec.Name}' ({_architecture.Name}, {spec.InputWidth}x{spec.InputHeight}) yields features of shape [{string.Join(",", OutputShape)}] ({probe.numel()} values), but its spec says FeatureLength = {spec.FeatureLength}."));
            }
        }
        catch
        {
            _module.Dispose();
            throw;
        }
    }

    public BackboneSpec Spec { get; }

    /// <summary>The feature output's shape with its batch dimension: [1, 1920] for DenseNet201, [1, 512, 7, 7] for VGG16 at 224, [1, 512] for ResNet18.</summary>
    public int[] OutputShape { get; } = [];

    public float[] Run(float[] tensor, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(tensor);

        // libtorch aborts the process on some shape errors instead of throwing: never hand it a tensor of the wrong size.
        if (tensor.Length != _inputShape[1] * _inputShape[2] * _inputShape[3])
        {
            throw new ArgumentException($"Expected {_inputShape[1] * _inputShape[2] * _inputShape[3]} values (3 x {_inputShape[2]} x {_inputShape[3]}), got {tensor.Length}.", nameof(tensor));
        }

        cancellationToken.ThrowIfCancellationRequested();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var output = Forward(ToInput(tensor)).cpu().contiguous();
        return output.data<float>().ToArray();
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _module.Dispose();
    }

    private Tensor ToInput(float[] values) => tensor(values, _inputShape).to(_device);

    private Tensor Forward(Tensor input) => _architecture.Features(_module, input);
}
