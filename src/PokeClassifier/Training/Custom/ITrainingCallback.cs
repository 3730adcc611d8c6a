namespace PokeClassifier.Training.Custom;

/// <summary>
/// A part of the TorchSharp training loop, in the manner of fastai's callbacks and Keras' <c>Callback</c>: the loop itself only runs
/// batches and validation; early stopping, restore-best-weights, reduce-on-plateau, the time budget, checkpoints and progress are
/// callbacks over the same <see cref="TrainingState"/>. Add your own with <see cref="TrainingOptions.Callbacks"/>, for example to stop
/// training from outside (<see cref="TrainingState.RequestStop"/>) and keep the model trained so far.
/// </summary>
/// <remarks>
/// Every method is called on the training thread, in the order the callbacks are listed (the built-in ones first). Each has an
/// empty default, so a callback implements only what it needs. A callback must not keep the state past the call.
/// </remarks>
public interface ITrainingCallback
{
    /// <summary>Once, before the first epoch (after a resumed checkpoint is loaded).</summary>
    /// <param name="state">The run's state.</param>
    void OnTrainingStarting(TrainingState state)
    {
    }

    /// <summary>Before each epoch's first batch.</summary>
    /// <param name="state">The run's state.</param>
    void OnEpochStarting(TrainingState state)
    {
    }

    /// <summary>After each optimisation step; <see cref="TrainingState.RequestStop"/> here ends the epoch after this batch.</summary>
    /// <param name="state">The run's state.</param>
    void OnBatchEnded(TrainingState state)
    {
    }

    /// <summary>After each epoch's validation, with <see cref="TrainingState.LastEpoch"/> set.</summary>
    /// <param name="state">The run's state.</param>
    void OnEpochEnded(TrainingState state)
    {
    }

    /// <summary>Once, after the last epoch (or the stop), before the summary is made.</summary>
    /// <param name="state">The run's state.</param>
    void OnTrainingEnded(TrainingState state)
    {
    }
}
