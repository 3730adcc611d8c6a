using System.Diagnostics;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Training.Custom.Callbacks;
using PokeClassifier.Training.Custom;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PokeClassifier.Training.LearningRate;

/// <summary>
/// The range test itself, for any module that <see cref="TorchTrainer"/> trains: the same batches (seeded shuffling, augmentation,
/// dropout), loss (label smoothing, class weights) and Adam as the loop, with the rate set per step, and the weights (parameters
/// and buffers) put back at the end, whatever happens, so the test does not train the model.
/// </summary>
internal static class LearningRateFinder
{
    /// <summary>Runs the test on <paramref name="model"/> and leaves its weights as they were, in eval mode.</summary>
    /// <param name="model">Maps a batch to logits.</param>
    /// <param name="train">The training examples.</param>
    /// <param name="classes">The class labels, in logit order (for class weights).</param>
    /// <param name="training">The loop's options (batch size, Adam, label smoothing, class weights).</param>
    /// <param name="options">The test's options.</param>
    /// <param name="seed">Drives shuffling, augmentation and dropout as in training.</param>
    /// <param name="groups">Parameter groups; their rates are scaled together so that group 0 runs at the tested rate.</param>
    /// <param name="hooks">Training-mode hook (fine-tuning keeps frozen batch norms in eval mode).</param>
    /// <param name="threads">libtorch's intra-op threads.</param>
    /// <param name="progress">After every step: step (as <see cref="TrainingProgress.Batch"/>) of <see cref="LearningRateFinderOptions.Steps"/>, smoothed loss, rate.</param>
    /// <param name="cancellationToken">Checked before every step; the weights are put back when cancelled too.</param>
    public static LearningRateFinderResult Run(
        Module<Tensor, Tensor> model, IBatchSource train, IReadOnlyList<string> classes, TrainingOptions training, LearningRateFinderOptions options, int seed,
        IReadOnlyList<ParameterGroup>? groups = null, TrainerHooks? hooks = null, int threads = 1, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(training);
        ArgumentNullException.ThrowIfNull(options);
        training.Validate();
        options.Validate();
        if (train.Count == 0)
        {
            throw new ArgumentException("There is nothing to test the learning rate on: the training set is empty.", nameof(train));
        }

        TorchRuntime.EnsureInitialized(threads);
        manual_seed(seed);
        var watch = Stopwatch.StartNew();
        using var placement = DevicePlacement.Enter(model, groups ?? [ParameterGroup.AllTrainable(model, training.LearningRate)], training.Device);
        groups = placement.Groups;
        var ratios = groups.Select(g => groups[0].LearningRate > 0 ? g.LearningRate / groups[0].LearningRate : 1).ToArray();
        using var optimizer = new AdamOptimizer(groups, training.Beta1, training.Beta2, training.Epsilon, training.WeightDecay, training.DecoupledWeightDecay);
        var classWeights = training.ClassWeights.Kind == ClassWeighting.None ? null : training.ClassWeights.Resolve(classes, train.Labels);
        var curve = new Curve(options);
        var snapshot = ModelSnapshot.Take(model);
        try
        {
            for (var pass = 1; curve.Steps < options.Steps && !curve.Stopped; pass++)
            {
                var random = TorchTrainer.BeginPass(model, hooks, seed, pass);
                var order = TorchTrainer.Permutation(train.Count, random);
                for (var seen = 0; seen < order.Length && curve.Steps < options.Steps && !curve.Stopped; seen += training.BatchSize)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var rate = options.StartLearningRate * Math.Pow(options.EndLearningRate / options.StartLearningRate, curve.Steps / (double)(options.Steps - 1));
                    for (var g = 0; g < groups.Count; g++)
                    {
                        optimizer.LearningRates[g] = rate * ratios[g];
                    }

                    var loss = Step(model, train, new ArraySegment<int>(order, seen, Math.Min(training.BatchSize, order.Length - seen)), random, training, classWeights, optimizer, placement);
                    if (curve.Add(rate, loss) is { } smooth)
                    {
                        progress?.Report(new TrainingProgress { Epoch = 1, Epochs = 1, Batch = curve.Steps, Batches = options.Steps, Loss = smooth, LearningRate = rate });
                    }
                }
            }
        }
        finally
        {
            ModelSnapshot.Restore(model, snapshot);
            ModelSnapshot.Dispose(snapshot);
            optimizer.ZeroGrad();
            model.eval();
        }

        if (curve.Steps == 0)
        {
            throw new InvalidOperationException($"The learning-rate finder's first step already gave a loss that is not a number (at {LearningRateFinderResult.Rate(options.StartLearningRate)}); start lower or check the data.");
        }

        return LearningRateFinderResult.From(curve.Rates, curve.Losses, curve.Smoothed, options.Steps, curve.DivergedAt, curve.Reason, watch.Elapsed.TotalSeconds);
    }

    /// <summary>One training step on <paramref name="indices"/>, with the loop's loss and Adam; returns the step's loss.</summary>
    private static double Step(
        Module<Tensor, Tensor> model, IBatchSource train, ArraySegment<int> indices, Random random, TrainingOptions training, float[]? classWeights, AdamOptimizer optimizer,
        DevicePlacement placement)
    {
        using var scope = NewDisposeScope();
        var inputs = placement.Input(train.Inputs(indices, training: true, random));
        var value = ClassificationLoss.Mean(
            model.call(inputs), TorchTrainer.Targets(train, indices, placement.Device), training.LabelSmoothing,
            TorchTrainer.ExampleWeights(train, indices, classWeights, placement.Device));
        optimizer.ZeroGrad();
        value.backward();
        optimizer.Step();
        return value.item<float>();
    }

    /// <summary>The loss against the rate as the test goes: raw and smoothed (fastai's debiased running mean), and when and why it stopped.</summary>
    private sealed class Curve(LearningRateFinderOptions options)
    {
        private double _average;
        private double _lowest = double.PositiveInfinity;

        public List<double> Rates { get; } = new(options.Steps);

        public List<double> Losses { get; } = new(options.Steps);

        public List<double> Smoothed { get; } = new(options.Steps);

        public int Steps => Rates.Count;

        public bool Stopped { get; private set; }

        public double? DivergedAt { get; private set; }

        public string Reason { get; private set; } = options.DivergenceFactor is null
            ? $"ran all {options.Steps} steps"
            : $"ran all {options.Steps} steps (the loss never exceeded {options.DivergenceFactor}x its lowest value)";

        /// <summary>Records one step; returns its smoothed loss, or <see langword="null"/> when the loss is not a number (nothing is recorded, the test stops).</summary>
        public double? Add(double rate, double loss)
        {
            if (!double.IsFinite(loss))
            {
                Stop(rate, $"stopped at step {Steps + 1}: the loss is not a number at {LearningRateFinderResult.Rate(rate)}");
                return null;
            }

            _average = (options.Smoothing * _average) + ((1 - options.Smoothing) * loss);
            var smooth = _average / (1 - Math.Pow(options.Smoothing, Steps + 1));
            Rates.Add(rate);
            Losses.Add(loss);
            Smoothed.Add(smooth);
            _lowest = Math.Min(_lowest, smooth);
            if (options.DivergenceFactor is { } factor && smooth > factor * _lowest)
            {
                Stop(rate, $"stopped at step {Steps}: the smoothed loss exceeded {factor}x its lowest value at {LearningRateFinderResult.Rate(rate)}");
            }

            return smooth;
        }

        private void Stop(double rate, string reason)
        {
            DivergedAt = rate;
            Reason = reason;
            Stopped = true;
        }
    }
}
