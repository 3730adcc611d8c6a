using System.Diagnostics;

namespace PokeClassifier.Training.Custom;

/// <summary>
/// What a <see cref="ITrainingCallback"/> sees of a training run, and the few things it may change: the learning-rate factor and
/// whether to stop. Owned by the loop; valid only during a callback.
/// </summary>
public sealed class TrainingState
{
    private readonly List<EpochRecord> _history = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private double[] _learningRates = [];

    internal TrainingState(object model, object optimizer, TrainingOptions options, int seed, int batches, int trainCount, bool hasValidation)
    {
        Model = model;
        Optimizer = optimizer;
        Options = options;
        Seed = seed;
        Batches = batches;
        TrainCount = trainCount;
        HasValidation = hasValidation;
        Epochs = options.Epochs;
    }

    /// <summary>The epoch being trained (1-based); 0 before the first.</summary>
    public int Epoch { get; internal set; }

    /// <summary>The most epochs the run trains.</summary>
    public int Epochs { get; }

    /// <summary>Batches done in the current epoch.</summary>
    public int Batch { get; internal set; }

    /// <summary>Batches per epoch.</summary>
    public int Batches { get; }

    /// <summary>Optimisation steps done in the whole run.</summary>
    public long Step { get; internal set; }

    /// <summary>The loss of the last batch.</summary>
    public double BatchLoss { get; internal set; }

    /// <summary>The mean training loss of the current epoch so far.</summary>
    public double EpochLoss { get; internal set; }

    /// <summary>Every finished epoch, in order.</summary>
    public IReadOnlyList<EpochRecord> History => _history;

    /// <summary>The last finished epoch; <see langword="null"/> before the first ends.</summary>
    public EpochRecord? LastEpoch => _history.Count == 0 ? null : _history[^1];

    /// <summary>Wall time since training started (for a resumed run: since it resumed).</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Each parameter group's learning rate for the current step, in group order.</summary>
    public IReadOnlyList<double> LearningRates => _learningRates;

    /// <summary>
    /// A factor on every group's scheduled learning rate, applied from the next step on; reduce-on-plateau lowers it, a learning-rate
    /// finder raises it. Starts at 1.
    /// </summary>
    public double LearningRateFactor { get; set; } = 1;

    /// <summary>Whether a callback asked the loop to stop.</summary>
    public bool StopRequested => StopReason is not null;

    /// <summary>Why a callback asked the loop to stop; <see langword="null"/> while none has.</summary>
    public string? StopReason { get; private set; }

    /// <summary>Whether the run has a validation set.</summary>
    public bool HasValidation { get; }

    /// <summary>Training examples per epoch.</summary>
    public int TrainCount { get; }

    /// <summary>
    /// Asks the loop to stop: after the current batch when called from <see cref="ITrainingCallback.OnBatchEnded"/>, else before the
    /// next epoch. The model keeps the weights trained so far (or the best epoch's, when restore-best is on). The first reason wins.
    /// </summary>
    /// <param name="reason">Why, in words, for the summary.</param>
    public void RequestStop(string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        StopReason ??= reason;
    }

    /// <summary>The network trained (a TorchSharp <c>Module&lt;Tensor, Tensor&gt;</c>, typed in the <c>PokeClassifier.TorchSharp</c> package, which runs the loop).</summary>
    internal object Model { get; }

    /// <summary>The optimizer (the TorchSharp package's <c>AdamOptimizer</c>).</summary>
    internal object Optimizer { get; }

    internal TrainingOptions Options { get; }

    internal int Seed { get; }

    /// <summary>Set by early stopping: the best epoch by its metric.</summary>
    internal int? BestEpoch { get; set; }

    /// <summary>Set when another epoch's weights were put back at the end.</summary>
    internal int? RestoredEpoch { get; set; }

    /// <summary>Whether a callback ended the run before its last epoch.</summary>
    internal bool StoppedEarly => StopRequested && (Epoch < Epochs || Batch < Batches);

    /// <summary>A sentence for the summary from the callbacks that have something to say (early stopping's best epoch).</summary>
    internal string? Remark { get; set; }

    /// <summary>Set by weight averaging: the first epoch whose weights entered the mean the model now holds (the last is the last epoch run).</summary>
    internal int? AveragedFromEpoch { get; set; }

    /// <summary>The first group's rate at the epoch's first step (the history's learning rate).</summary>
    internal double FirstLearningRate { get; set; }

    internal void SetLearningRates(double[] rates) => _learningRates = rates;

    internal void Add(EpochRecord record) => _history.Add(record);

    internal void Load(IEnumerable<EpochRecord> history)
    {
        _history.Clear();
        _history.AddRange(history);
    }
}
