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
        groups ??= [new ParameterGroup("all", model.parameters().Where(p => p.requires_grad).ToArray(), training.LearningRate)];
        var ratios = groups.Select(g => groups[0].LearningRate > 0 ? g.LearningRate / groups[0].LearningRate : 1).ToArray();
        var optimizer = new AdamOptimizer(groups, training.Beta1, training.Beta2, training.Epsilon, training.WeightDecay, training.DecoupledWeightDecay);
        var classWeights = training.ClassWeights.Kind == ClassWeighting.None ? null : training.ClassWeights.Resolve(classes, train.Labels);
        var rates = new List<double>(options.Steps);
        var losses = new List<double>(options.Steps);
        var smoothed = new List<double>(options.Steps);
        double? divergedAt = null;
        var reason = $"ran all {options.Steps} steps (the loss never exceeded {options.DivergenceFactor}x its lowest value)";
        if (options.DivergenceFactor is null)
        {
            reason = $"ran all {options.Steps} steps";
        }

        var snapshot = ModelSnapshot.Take(model);
        try
        {
            double average = 0;
            var lowest = double.PositiveInfinity;
            var step = 0;
            var stopped = false;
            for (var pass = 1; step < options.Steps && !stopped; pass++)
            {
                Enter(model, hooks);
                var random = new Random(unchecked((seed * 1_000_003) + pass));
                foreach (var dropout in model.modules().OfType<SeededDropout>())
                {
                    dropout.Reseed(pass);
                }

                var order = Enumerable.Range(0, train.Count).ToArray();
                for (var i = order.Length - 1; i > 0; i--)
                {
                    var j = random.Next(i + 1);
                    (order[i], order[j]) = (order[j], order[i]);
                }

                for (var seen = 0; seen < order.Length && step < options.Steps; seen += training.BatchSize)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var rate = options.StartLearningRate * Math.Pow(options.EndLearningRate / options.StartLearningRate, step / (double)(options.Steps - 1));
                    for (var g = 0; g < groups.Count; g++)
                    {
                        optimizer.LearningRates[g] = rate * ratios[g];
                    }

                    var indices = new ArraySegment<int>(order, seen, Math.Min(training.BatchSize, order.Length - seen));
                    double loss;
                    using (NewDisposeScope())
                    {
                        var inputs = train.Inputs(indices, training: true, random);
                        var labels = new long[indices.Count];
                        for (var k = 0; k < labels.Length; k++)
                        {
                            labels[k] = train.Labels[indices[k]];
                        }

                        var weights = classWeights is null ? null : tensor(indices.Select(k => classWeights[train.Labels[k]]).ToArray());
                        var value = ClassificationLoss.Mean(model.call(inputs), tensor(labels), training.LabelSmoothing, weights);
                        optimizer.ZeroGrad();
                        value.backward();
                        optimizer.Step();
                        loss = value.item<float>();
                    }

                    if (!double.IsFinite(loss))
                    {
                        divergedAt = rate;
                        reason = $"stopped at step {step + 1}: the loss is not a number at {LearningRateFinderResult.Rate(rate)}";
                        stopped = true;
                        break;
                    }

                    average = (options.Smoothing * average) + ((1 - options.Smoothing) * loss);
                    var smooth = average / (1 - Math.Pow(options.Smoothing, step + 1));
                    rates.Add(rate);
                    losses.Add(loss);
                    smoothed.Add(smooth);
                    lowest = Math.Min(lowest, smooth);
                    step++;
                    progress?.Report(new TrainingProgress { Epoch = 1, Epochs = 1, Batch = step, Batches = options.Steps, Loss = smooth, LearningRate = rate });
                    if (options.DivergenceFactor is { } factor && smooth > factor * lowest)
                    {
                        divergedAt = rate;
                        reason = $"stopped at step {step}: the smoothed loss exceeded {factor}x its lowest value at {LearningRateFinderResult.Rate(rate)}";
                        stopped = true;
                        break;
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

        if (rates.Count == 0)
        {
            throw new InvalidOperationException($"The learning-rate finder's first step already gave a loss that is not a number (at {LearningRateFinderResult.Rate(options.StartLearningRate)}); start lower or check the data.");
        }

        return LearningRateFinderResult.From(rates, losses, smoothed, options.Steps, divergedAt, reason, watch.Elapsed.TotalSeconds);
    }

    private static void Enter(Module<Tensor, Tensor> model, TrainerHooks? hooks)
    {
        if (hooks?.EnterTraining is { } enter)
        {
            enter(model);
        }
        else
        {
            model.train();
        }
    }
}
