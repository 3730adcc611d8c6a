using PokeClassifier.Backbones.Torch;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using Parameter = TorchSharp.Modules.Parameter;

namespace PokeClassifier.Training.Custom;

/// <summary>
/// Where one training run (<see cref="TorchTrainer"/>, the learning-rate finder) computes: the model and its parameter groups on
/// <see cref="TrainingOptions.Device"/> for the run, and back on the CPU when it is disposed (finished, failed or cancelled), so that
/// everything after training (the trained classifier, ONNX export, the fine-tuned backbone's file) reads CPU weights as before.
/// </summary>
/// <remarks>
/// Batch sources make their batches on the CPU and <see cref="Input"/> moves them; targets and class weights are made on the device. On the
/// CPU nothing moves: the model, its parameters and every batch are the caller's own objects. TorchSharp's <c>Module.to</c> replaces
/// each parameter by a new one (and frees the old), so the groups are rebuilt from the model's parameter names after the move, and a
/// group may only hold the model's own parameters.
/// </remarks>
internal sealed class DevicePlacement : IDisposable
{
    private readonly Action? _back;

    private DevicePlacement(Device device, IReadOnlyList<ParameterGroup> groups, Action? back)
    {
        Device = device;
        Groups = groups;
        _back = back;
    }

    /// <summary>The device the run computes on.</summary>
    public Device Device { get; }

    /// <summary>The parameter groups, holding the parameters as they are on <see cref="Device"/>.</summary>
    public IReadOnlyList<ParameterGroup> Groups { get; }

    /// <summary>Whether the run computes on the CPU (nothing is moved).</summary>
    public bool IsCpu => Device.type == TorchSharp.DeviceType.CPU;

    /// <summary>Puts <paramref name="model"/> on <paramref name="device"/> with its <paramref name="groups"/>.</summary>
    /// <exception cref="DeviceUnavailableException">The device cannot be used here; the message names what is missing.</exception>
    /// <exception cref="ArgumentException">A group holds a parameter that is not the model's (only on a device other than the CPU).</exception>
    public static DevicePlacement Enter(Module<Tensor, Tensor> model, IReadOnlyList<ParameterGroup> groups, ComputeDevice device)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(groups);
        var target = TorchRuntime.Device(device);
        return target.type == TorchSharp.DeviceType.CPU
            ? new DevicePlacement(target, groups, back: null)
            : Rebind(model, groups, target, m => m.to(target), m => m.to(CPU));
    }

    /// <summary>
    /// Applies <paramref name="move"/> to the model (which replaces its parameters) and rebuilds the groups from the parameters' names;
    /// <paramref name="back"/> runs on <see cref="Dispose"/>.
    /// </summary>
    internal static DevicePlacement Rebind(
        Module<Tensor, Tensor> model, IReadOnlyList<ParameterGroup> groups, Device device, Action<Module<Tensor, Tensor>> move, Action<Module<Tensor, Tensor>> back)
    {
        // Names before the move: the objects in the groups are freed by it.
        var names = new Dictionary<Parameter, string>(ReferenceEqualityComparer.Instance);
        foreach (var (name, parameter) in model.named_parameters())
        {
            names[parameter] = name;
        }

        var groupNames = groups.Select(g => g.Parameters.Select(p => names.TryGetValue(p, out var n) ? n
            : throw new ArgumentException($"Parameter group '{g.Name}' holds a parameter that is not one of the model's; to train on {device} the groups must hold the model's own parameters.", nameof(groups))).ToArray()).ToArray();
        move(model);
        var moved = model.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        return new DevicePlacement(device, groups.Select((g, i) => g with { Parameters = groupNames[i].Select(n => moved[n]).ToArray() }).ToArray(), () => back(model));
    }

    /// <summary>A batch made on the CPU, on the run's device (on the CPU, the same tensor; else a copy, the CPU one left to its dispose scope).</summary>
    public Tensor Input(Tensor batch) => IsCpu ? batch : batch.to(Device);

    /// <summary>Puts the model back on the CPU (nothing on the CPU).</summary>
    public void Dispose() => _back?.Invoke();
}
