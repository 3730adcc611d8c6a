using System.Globalization;
using static TorchSharp.torch;

namespace PokeClassifier.Training.Custom.Callbacks;

/// <summary>Early stopping with restore-best-weights (<see cref="EarlyStoppingOptions"/>).</summary>
internal sealed class EarlyStoppingCallback(EarlyStoppingOptions options) : ITrainingCallback, ICheckpointedCallback, IDisposable
{
    private readonly MetricTracker _best = new(options.Monitor, options.MinDelta);
    private Dictionary<string, Tensor>? _snapshot;

    public string Name => "early-stopping";

    public void OnEpochEnded(TrainingState state)
    {
        if (_best.Offer(state.LastEpoch!) && options.RestoreBestWeights)
        {
            ModelSnapshot.Dispose(_snapshot);
            _snapshot = ModelSnapshot.Take(state.Network());
        }

        state.BestEpoch = _best.BestEpoch;
        if (_best.EpochsSinceBest >= options.Patience && state.Epoch < state.Epochs)
        {
            state.RequestStop(string.Create(CultureInfo.InvariantCulture,
                $"Stopped early after epoch {state.Epoch}: the {MetricTracker.Words(options.Monitor)} did not improve on epoch {_best.BestEpoch}'s {_best.BestValue:0.0000} for {options.Patience} epoch(s)"));
        }
    }

    public void OnTrainingEnded(TrainingState state)
    {
        if (!state.StopRequested)
        {
            state.Remark = string.Create(CultureInfo.InvariantCulture, $"best {MetricTracker.Words(options.Monitor)} {_best.BestValue:0.0000} at epoch {_best.BestEpoch}");
        }

        if (_snapshot is not null && _best.BestEpoch is { } best && best != state.LastEpoch?.Epoch)
        {
            ModelSnapshot.Restore(state.Network(), _snapshot);
            state.RestoredEpoch = best;
        }
    }

    public void Write(BinaryWriter writer)
    {
        _best.Write(writer);
        ModelSnapshot.Write(writer, _snapshot);
    }

    public void Read(BinaryReader reader)
    {
        _best.Read(reader);
        ModelSnapshot.Dispose(_snapshot);
        _snapshot = ModelSnapshot.Read(reader);
    }

    public void Dispose()
    {
        ModelSnapshot.Dispose(_snapshot);
        _snapshot = null;
    }
}

/// <summary>Reduce-on-plateau (<see cref="ReduceOnPlateauOptions"/>): lowers <see cref="TrainingState.LearningRateFactor"/>.</summary>
internal sealed class ReduceOnPlateauCallback(ReduceOnPlateauOptions options, bool hasValidation, double initialLearningRate) : ITrainingCallback, ICheckpointedCallback
{
    private readonly MetricTracker _tracker = new(hasValidation ? options.Monitor : MetricTracker.TrainingVariant(options.Monitor), options.MinDelta);

    public string Name => "reduce-on-plateau";

    public void OnEpochEnded(TrainingState state)
    {
        if (!_tracker.Offer(state.LastEpoch!) && _tracker.EpochsSinceBest >= options.Patience)
        {
            var floor = options.MinLearningRate / initialLearningRate;
            state.LearningRateFactor = Math.Max(state.LearningRateFactor * options.Factor, Math.Min(state.LearningRateFactor, floor));
            _tracker.ResetWait();
        }
    }

    public void Write(BinaryWriter writer) => _tracker.Write(writer);

    public void Read(BinaryReader reader) => _tracker.Read(reader);
}

/// <summary>Reports <see cref="TrainingProgress"/> after every batch and after every epoch.</summary>
internal sealed class ProgressCallback(IProgress<TrainingProgress> progress) : ITrainingCallback
{
    public void OnBatchEnded(TrainingState state) => progress.Report(new TrainingProgress
    {
        Epoch = state.Epoch, Epochs = state.Epochs, Batch = state.Batch, Batches = state.Batches, Loss = state.EpochLoss, LearningRate = state.LearningRates[0],
    });

    public void OnEpochEnded(TrainingState state) => progress.Report(new TrainingProgress
    {
        Epoch = state.Epoch, Epochs = state.Epochs, Batch = state.Batches, Batches = state.Batches, Loss = state.LastEpoch!.TrainLoss, LearningRate = state.LastEpoch.LearningRate, CompletedEpoch = state.LastEpoch,
    });
}

/// <summary>
/// Stops training when its time is up (<see cref="TrainingOptions.TimeLimit"/>): after the batch at which the time left would not
/// cover one more batch and the validation pass, so the run ends within the limit with the weights trained so far.
/// </summary>
internal sealed class TimeLimitCallback(TimeSpan limit) : ITrainingCallback
{
    private TimeSpan _lastBatchEnd;
    private TimeSpan _batchTime;
    private TimeSpan _validationTime;
    private TimeSpan _epochEnd;

    public void OnEpochStarting(TrainingState state)
    {
        if (_epochEnd > TimeSpan.Zero)
        {
            _validationTime = state.Elapsed - _lastBatchEnd;
        }

        _lastBatchEnd = state.Elapsed;
    }

    public void OnBatchEnded(TrainingState state)
    {
        var now = state.Elapsed;
        var batch = now - _lastBatchEnd;
        _batchTime = _batchTime == TimeSpan.Zero ? batch : TimeSpan.FromTicks((_batchTime.Ticks * 3 / 4) + (batch.Ticks / 4));
        _lastBatchEnd = now;
        if (now + _batchTime + _validationTime >= limit)
        {
            state.RequestStop(string.Create(CultureInfo.InvariantCulture, $"Stopped at the time limit of {limit.TotalMinutes:0.#} min in epoch {state.Epoch} after batch {state.Batch} of {state.Batches}"));
        }
    }

    public void OnEpochEnded(TrainingState state) => _epochEnd = state.Elapsed;
}

/// <summary>Adapts the internal <see cref="TrainerHooks"/> (tests, fine-tuning) to callbacks.</summary>
internal sealed class HookCallback(TrainerHooks hooks) : ITrainingCallback
{
    public void OnEpochStarting(TrainingState state) => hooks.EpochStarting?.Invoke(state.Epoch, state.LearningRates.ToArray());

    public void OnEpochEnded(TrainingState state) => hooks.EpochEnded?.Invoke(state.LastEpoch!, state.Network());
}
