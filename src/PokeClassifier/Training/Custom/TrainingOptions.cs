using System.Globalization;
using PokeClassifier.Experiments;
using PokeClassifier.Training.Budget;

namespace PokeClassifier.Training.Custom;

/// <summary>
/// The training loop of the TorchSharp path. The defaults are the study's: Adam, a learning rate reduced every epoch, 10 epochs,
/// batch 32, early stopping, categorical cross-entropy. The same options, data and seed give bit-identical weights.
/// </summary>
/// <remarks>
/// The loss of one example is <c>-sum_c q_c log p_c</c>, with <c>p</c> the softmax of the head's output and <c>q</c> the
/// one-hot label smoothed as <c>(1 - LabelSmoothing) * onehot + LabelSmoothing / k</c> (k classes); a batch's loss is the mean
/// over its examples, weighted by <see cref="ClassWeights"/>. The learning rate of epoch <c>e</c> (1-based) is
/// <c>LearningRate * Schedule.Factor(e)</c>, times <see cref="ReduceOnPlateauOptions.Factor"/> for every plateau reduction so far.
/// </remarks>
public sealed record TrainingOptions
{
    /// <summary>The most epochs to train (early stopping may end sooner).</summary>
    /// <value>The default is 10.</value>
    public int Epochs { get; init; } = 10;

    /// <summary>Examples per optimisation step. The last batch of an epoch may be smaller.</summary>
    /// <value>The default is 32.</value>
    public int BatchSize { get; init; } = 32;

    /// <summary>Adam's initial learning rate.</summary>
    /// <value>The default is 0.001.</value>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Adam's decay rate of the running mean of gradients.</summary>
    /// <value>The default is 0.9.</value>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>Adam's decay rate of the running mean of squared gradients.</summary>
    /// <value>The default is 0.999.</value>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>Adam's epsilon, added to the denominator for numerical stability.</summary>
    /// <value>The default is 1e-7 (Keras's; PyTorch's is 1e-8).</value>
    public double Epsilon { get; init; } = 1e-7;

    /// <summary>Weight decay: an L2 penalty added to the gradient (PyTorch's <c>Adam</c>), or decoupled when <see cref="DecoupledWeightDecay"/> is set.</summary>
    /// <value>The default is 0.</value>
    public double WeightDecay { get; init; }

    /// <summary>
    /// Whether weight decay is decoupled from the gradient (AdamW, Loshchilov and Hutter): each step shrinks the weights by
    /// <c>lr * WeightDecay</c>, so the decay does not pass through Adam's per-weight scaling. fastai and timm train this way.
    /// </summary>
    /// <value>The default is <see langword="false"/> (the study's Adam).</value>
    public bool DecoupledWeightDecay { get; init; }

    /// <summary>
    /// The longest the loop may run; when the time left would not cover another batch and the validation pass, training stops with
    /// the weights it has (restore-best still applies). <see langword="null"/> for no limit.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public TimeSpan? TimeLimit { get; init; }

    /// <summary>Callbacks of your own, called after the built-in ones (<see cref="ITrainingCallback"/>).</summary>
    /// <value>The default is none.</value>
    public IReadOnlyList<ITrainingCallback> Callbacks { get; init; } = [];

    /// <summary>
    /// A file to write a checkpoint to after every epoch (weights, optimizer state, history), replacing the previous one atomically;
    /// <see langword="null"/> for none. With <see cref="Resume"/>, an interrupted run started again with the same data, options and
    /// seed goes on from the last finished epoch and ends with the weights an uninterrupted run would have.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? CheckpointPath { get; init; }

    /// <summary>Whether to continue from <see cref="CheckpointPath"/> when it exists (a checkpoint of another run is an error).</summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool Resume { get; init; }

    /// <summary>
    /// The recommended loop for fine-tuning a whole backbone (with <see cref="FineTuning.FineTuneOptions.Recommended"/>): AdamW (weight decay 0.01)
    /// with the head at 2e-3 and the backbone at a twentieth of it, warm-up then cosine, label smoothing 0.1, 8 epochs, early stopping
    /// on the validation macro-F1 with restore-best (patience as long as the run, so it only keeps the best epoch). A time budget
    /// (<see cref="TrainingBudget"/>) sets the epochs and the input size from this machine's measured speed.
    /// </summary>
    public static TrainingOptions RecommendedFineTune => new()
    {
        Epochs = 8,
        LearningRate = 2e-3,
        Epsilon = 1e-8,
        DecoupledWeightDecay = true,
        WeightDecay = 0.01,
        Schedule = LearningRateSchedule.WarmupCosine(0.04),
        LabelSmoothing = 0.1,
        EarlyStopping = new EarlyStoppingOptions { Monitor = TrainingMetric.ValidationMacroF1, Patience = 8 },
    };

    /// <summary>
    /// The recommended loop of <see cref="FineTuning.FineTuneOptions.RecommendedCached"/>: AdamW (weight decay 0.05) at 1e-3, batches of 64,
    /// half an epoch of warm-up then cosine to zero over 6 epochs, label smoothing 0.1, and the weights averaged over the second
    /// half of the run (<see cref="WeightAveraging"/>) instead of an epoch picked on a validation set: every training image is
    /// trained on (<see cref="ValidationFraction"/> 0), and no small validation set can pick an early epoch (docs/recipes.md).
    /// </summary>
    public static TrainingOptions RecommendedCachedFineTune => new()
    {
        Epochs = 6,
        BatchSize = 64,
        LearningRate = 1e-3,
        Epsilon = 1e-8,
        DecoupledWeightDecay = true,
        WeightDecay = 0.05,
        Schedule = LearningRateSchedule.WarmupCosine(0.5 / 6),
        LabelSmoothing = 0.1,
        EarlyStopping = null,
        WeightAveraging = new WeightAveragingOptions { StartFraction = 0.5 },
        ValidationFraction = 0,
    };

    /// <summary>The study's loop: Adam at 1e-3, the rate times 0.9 every epoch, 10 epochs, batch 32, early stopping on the validation loss.</summary>
    public static TrainingOptions Study => new();

    /// <summary>
    /// The recommended loop for a head on frozen features: AdamW (weight decay 1e-4) at 3e-3 with a warm-up then cosine schedule,
    /// label smoothing 0.1, 60 epochs (an epoch on cached features takes milliseconds), early stopping on the validation macro-F1
    /// with patience 10 and restore-best. It converges where the study's budget does not (<c>docs/recipes.md</c>).
    /// </summary>
    public static TrainingOptions Recommended => new()
    {
        Epochs = 60,
        LearningRate = 3e-3,
        Epsilon = 1e-8,
        DecoupledWeightDecay = true,
        WeightDecay = 1e-4,
        Schedule = LearningRateSchedule.WarmupCosine(0.05),
        LabelSmoothing = 0.1,
        EarlyStopping = new EarlyStoppingOptions { Monitor = TrainingMetric.ValidationMacroF1, Patience = 10 },
    };

    /// <summary>How the learning rate changes from epoch to epoch.</summary>
    /// <value>The default is <see cref="LearningRateSchedule.Exponential(double)"/> with gamma 0.9: reduced every epoch, as in the study.</value>
    public LearningRateSchedule Schedule { get; init; } = LearningRateSchedule.Exponential();

    /// <summary>A further reduction when a metric stops improving; <see langword="null"/> for none.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public ReduceOnPlateauOptions? ReduceOnPlateau { get; init; }

    /// <summary>
    /// Early stopping; <see langword="null"/> to always train <see cref="Epochs"/> epochs. It watches the validation loss by default, so
    /// it is on whenever there is a validation set and off otherwise.
    /// </summary>
    /// <value>The default is <see cref="EarlyStoppingOptions"/>' defaults (validation loss, patience 3, restore best weights).</value>
    public EarlyStoppingOptions? EarlyStopping { get; init; } = new();

    /// <summary>
    /// Stochastic weight averaging over the last epochs; <see langword="null"/> for none. The final model then holds the mean of the
    /// weights at the end of those epochs instead of the last (or the best) epoch's, so it cannot be combined with
    /// <see cref="EarlyStoppingOptions.RestoreBestWeights"/>.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public WeightAveragingOptions? WeightAveraging { get; init; }

    /// <summary>
    /// Mixup or CutMix of each training batch with a shuffled copy of itself (<see cref="MixingOptions"/>); <see langword="null"/> for
    /// none. Training accuracy is then counted against each example's own label.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public MixingOptions? Mixing { get; init; }

    /// <summary>Label smoothing of the cross-entropy, 0 to below 1 (0 is plain categorical cross-entropy).</summary>
    /// <value>The default is 0.</value>
    public double LabelSmoothing { get; init; }

    /// <summary>Per-class weights of the training loss.</summary>
    /// <value>The default is <see cref="ClassWeights.None"/>.</value>
    public ClassWeights ClassWeights { get; init; } = ClassWeights.None;

    /// <summary>
    /// The seed of the weight initialisation, the shuffling of batches and dropout; <see langword="null"/> for the run's seed
    /// (<see cref="Data.SplitOptions.Seed"/> of a <see cref="ClassificationBuilder"/> run, the seed of an <see cref="Experiment"/>).
    /// </summary>
    /// <value>The default is <see langword="null"/>: the run's seed, which is 42 unless set.</value>
    public int? Seed { get; init; }

    /// <summary>
    /// When the split has no validation set (k-fold, a split with <see cref="Data.SplitOptions.ValidationFraction"/> 0, or
    /// <see cref="ClassificationBuilder.TrainAsync"/>), the share of each class's training images held out for validation: whole
    /// groups (<see cref="Data.DatasetItem.Group"/>) are drawn with the seed, and a class keeps at least one group for training.
    /// 0 trains on everything, without validation (and so without validation-based early stopping).
    /// </summary>
    /// <value>The default is 0.1.</value>
    public double ValidationFraction { get; init; } = 0.1;

    /// <summary>
    /// Where TorchSharp trains (custom heads and fine-tuning): the model and its optimizer state live there for the run, batches are
    /// made on the CPU and moved there, and the trained weights come back to the CPU when the run ends. CUDA needs a CUDA libtorch in
    /// the application and a visible GPU; where either is missing, training throws <see cref="DeviceUnavailableException"/> naming it.
    /// </summary>
    /// <value>The default is <see cref="ComputeDevice.Cpu"/>.</value>
    public ComputeDevice Device { get; init; } = ComputeDevice.Cpu;

    /// <summary>Checks every option and throws one <see cref="ArgumentException"/> listing every problem.</summary>
    public void Validate()
    {
        var problems = Problems();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid training options: " + string.Join(" ", problems));
        }
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{(DecoupledWeightDecay ? "AdamW" : "Adam")} lr {LearningRate}{(WeightDecay > 0 ? $" wd {WeightDecay}" : string.Empty)} (betas {Beta1}, {Beta2}), {Schedule}, {Epochs} epochs, batch {BatchSize}, early stopping: {(EarlyStopping is null ? "off" : EarlyStopping.ToString())}{(WeightAveraging is null ? string.Empty : $", {WeightAveraging}")}{(Mixing is null ? string.Empty : $", {Mixing}")}");

    internal List<string> Problems()
    {
        var errors = new List<string>();
        if (Device is null)
        {
            errors.Add($"{nameof(Device)} must not be null (use ComputeDevice.Cpu).");
        }

        if (Epochs < 1)
        {
            errors.Add($"{nameof(Epochs)} must be at least 1 (was {Epochs}).");
        }

        if (BatchSize < 1)
        {
            errors.Add($"{nameof(BatchSize)} must be at least 1 (was {BatchSize}).");
        }

        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{nameof(LearningRate)} must be a positive number (was {LearningRate})."));
        }

        foreach (var (name, value) in new[] { (nameof(Beta1), Beta1), (nameof(Beta2), Beta2) })
        {
            if (!(value >= 0 && value < 1))
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture, $"{name} must be at least 0 and below 1 (was {value})."));
            }
        }

        if (!(Epsilon > 0) || double.IsInfinity(Epsilon))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{nameof(Epsilon)} must be a positive number (was {Epsilon})."));
        }

        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{nameof(WeightDecay)} must be 0 or more (was {WeightDecay})."));
        }

        if (!(LabelSmoothing >= 0 && LabelSmoothing < 1))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{nameof(LabelSmoothing)} must be at least 0 and below 1 (was {LabelSmoothing})."));
        }

        if (!(ValidationFraction >= 0 && ValidationFraction < 1))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{nameof(ValidationFraction)} must be at least 0 and below 1 (was {ValidationFraction})."));
        }

        if (Schedule is null)
        {
            errors.Add($"{nameof(Schedule)} must be set (use LearningRateSchedule.None for a constant rate).");
        }
        else
        {
            errors.AddRange(Schedule.Problems());
        }

        if (ClassWeights is null)
        {
            errors.Add($"{nameof(ClassWeights)} must be set (use ClassWeights.None).");
        }
        else
        {
            errors.AddRange(ClassWeights.Problems());
        }

        if (TimeLimit is { } limit && limit <= TimeSpan.Zero)
        {
            errors.Add($"{nameof(TimeLimit)} must be positive (was {limit}).");
        }

        if (Callbacks is null || Callbacks.Any(c => c is null))
        {
            errors.Add($"{nameof(Callbacks)} must be a list of callbacks without nulls.");
        }

        if (Resume && CheckpointPath is null)
        {
            errors.Add($"{nameof(Resume)} needs a {nameof(CheckpointPath)}.");
        }

        if (CheckpointPath is { } checkpoint && string.IsNullOrWhiteSpace(checkpoint))
        {
            errors.Add($"{nameof(CheckpointPath)} must be null or a file path.");
        }

        errors.AddRange(EarlyStopping?.Problems() ?? []);
        errors.AddRange(ReduceOnPlateau?.Problems() ?? []);
        errors.AddRange(WeightAveraging?.Problems() ?? []);
        errors.AddRange(Mixing?.Problems() ?? []);
        if (WeightAveraging is not null && EarlyStopping is { RestoreBestWeights: true })
        {
            errors.Add($"{nameof(WeightAveraging)} and {nameof(EarlyStopping)}.{nameof(EarlyStoppingOptions.RestoreBestWeights)} both choose the final weights: turn one off.");
        }
        return errors;
    }
}
