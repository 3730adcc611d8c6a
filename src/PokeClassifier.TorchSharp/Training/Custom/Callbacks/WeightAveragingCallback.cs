using static TorchSharp.torch;

namespace PokeClassifier.Training.Custom.Callbacks;

/// <summary>
/// Keeps the running mean of the model's parameters and floating-point buffers over the epochs <see cref="WeightAveragingOptions"/>
/// names and puts it into the model when training ends (also when it stops early or at a time limit, once one epoch was averaged).
/// </summary>
internal sealed class WeightAveragingCallback(WeightAveragingOptions options) : ITrainingCallback, ICheckpointedCallback, IDisposable
{
    private Dictionary<string, Tensor>? _average;
    private int _count;

    public string Name => "weight-averaging";

    public void OnEpochEnded(TrainingState state)
    {
        if (state.Epoch < options.FirstEpoch(state.Epochs))
        {
            return;
        }

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        if (_average is null)
        {
            _average = ModelSnapshot.Take(state.Network());
            _count = 1;
            return;
        }

        _count++;
        foreach (var (name, value) in state.Network().state_dict())
        {
            var mean = _average[name];
            if (mean.is_floating_point())
            {
                // The average stays where it was made (on the training device, or on the CPU when read from a checkpoint).
                mean.add_((value.to(mean.device) - mean) / _count);
            }
            else
            {
                mean.copy_(value);
            }
        }
    }

    public void OnTrainingEnded(TrainingState state)
    {
        if (_average is null || _count < 2)
        {
            return;
        }

        ModelSnapshot.Restore(state.Network(), _average);
        state.RestoredEpoch = null;
        state.AveragedFromEpoch = options.FirstEpoch(state.Epochs);
    }

    public void Write(BinaryWriter writer)
    {
        writer.Write(_count);
        ModelSnapshot.Write(writer, _average);
    }

    public void Read(BinaryReader reader)
    {
        _count = reader.ReadInt32();
        ModelSnapshot.Dispose(_average);
        _average = ModelSnapshot.Read(reader);
    }

    public void Dispose()
    {
        ModelSnapshot.Dispose(_average);
        _average = null;
    }
}
