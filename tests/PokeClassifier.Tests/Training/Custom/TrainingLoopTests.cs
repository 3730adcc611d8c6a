using System.Diagnostics;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PokeClassifier.Tests.Training.Custom;

/// <summary>The TorchSharp training loop on synthetic features: heads, early stopping, schedules, loss, determinism, memory.</summary>
public sealed class TrainingLoopTests(ITestOutputHelper output)
{
    private static readonly TrainingOptions Quiet = new() { EarlyStopping = null };

    public static TheoryData<CustomHeadKind, int[]> Heads => new()
    {
        { CustomHeadKind.GlobalAveragePoolDense, [32] },
        { CustomHeadKind.GlobalAveragePoolDense, [16, 3, 3] },
        { CustomHeadKind.FlattenDense256, [32] },
        { CustomHeadKind.FlattenDense256, [16, 3, 3] },
        { CustomHeadKind.Mlp, [32] },
        { CustomHeadKind.Mlp, [16, 3, 3] },
    };

    [Theory]
    [MemberData(nameof(Heads))]
    public void Given_separable_clusters_When_each_head_trains_with_the_study_defaults_Then_held_out_accuracy_is_at_least_90_percent(CustomHeadKind kind, int[] shape)
    {
        var train = Clusters.Make(5, 300, shape, seed: 1, separation: 1);
        var test = Clusters.Make(5, 20, shape, seed: 2, separation: 1);
        using var model = HeadNetwork.Build(new CustomHeadOptions { Kind = kind, HiddenSizes = [64], Dropout = 0.2 }, shape, 5, seed: 3);

        var summary = TorchTrainer.Train(model, train.Source(), null, train.Classes, new TrainingOptions(), seed: 3);

        var (_, accuracy, _) = TorchTrainer.Evaluate(model, test.Source(), new TrainingOptions(), train.Classes.Length, default);
        output.WriteLine($"{kind} on [{string.Join(",", shape)}]: held-out accuracy {accuracy}");
        Assert.True(accuracy >= 0.9, $"{kind} on [{string.Join(",", shape)}]: held-out accuracy {accuracy}\n{summary.ToTable()}");
        Assert.Equal(10, summary.History.Count);
        Assert.True(summary.History[^1].TrainLoss < summary.History[0].TrainLoss / 2, summary.ToTable());
        Assert.All(summary.History, e => Assert.Null(e.ValidationLoss));
        Assert.Equal(10, summary.KeptEpoch);
    }

    [Fact]
    public void Given_a_tiny_noisy_training_set_and_a_large_learning_rate_When_validation_loss_rises_Then_training_stops_after_patience_epochs_and_the_best_epochs_weights_are_restored()
    {
        int[] shape = [64];
        var train = Clusters.Make(4, 6, shape, seed: 11, separation: 0.4, flipFraction: 0.5);
        var validation = Clusters.Make(4, 30, shape, seed: 12, separation: 0.4);
        var options = new TrainingOptions { Epochs = 40, BatchSize = 8, LearningRate = 0.05, Schedule = LearningRateSchedule.None, EarlyStopping = new EarlyStoppingOptions { Patience = 3 } };
        var snapshots = new Dictionary<int, Dictionary<string, float[]>>();
        using var model = HeadNetwork.Build(CustomHeadOptions.FlattenDense256(), shape, 4, seed: 5);

        var summary = TorchTrainer.Train(model, train.Source(), validation.Source(), train.Classes, options, seed: 5, new TrainerContext { Hooks = new TrainerHooks { EpochEnded = (r, m) => snapshots[r.Epoch] = Weights(m) } });

        output.WriteLine(summary.ToTable());
        var losses = summary.History.Select(e => e.ValidationLoss!.Value).ToArray();
        var best = Array.IndexOf(losses, losses.Min()) + 1;
        Assert.True(summary.StoppedEarly);
        Assert.Equal(best + 3, summary.History.Count);
        Assert.True(losses[^1] > losses[best - 1] * 1.05, "the validation loss rose after the best epoch");
        Assert.Equal(best, summary.BestEpoch);
        Assert.Equal(best, summary.KeptEpoch);
        Assert.Contains($"restored epoch {best}'s weights", summary.StopReason, StringComparison.Ordinal);
        AssertSameWeights(snapshots[best], Weights(model));
        Assert.NotEqual(snapshots[summary.History.Count]["dense.weight"], Weights(model)["dense.weight"]);
    }

    [Fact]
    public void Given_a_validation_loss_that_keeps_improving_When_early_stopping_watches_it_Then_every_epoch_runs()
    {
        // ML.NET's early stopping starts a loss's best value at 0: nothing improves on it, so it always stops after `patience`
        // epochs. Here the best starts at +infinity and a loss that keeps falling never stops the run.
        int[] shape = [32];
        var train = Clusters.Make(5, 40, shape, seed: 21, separation: 0.5);
        var validation = Clusters.Make(5, 20, shape, seed: 22, separation: 0.5);
        var options = new TrainingOptions { Epochs = 10, EarlyStopping = new EarlyStoppingOptions { Patience = 2 } };
        using var model = HeadNetwork.Build(CustomHeadOptions.GlobalAveragePoolDense(), shape, 5, seed: 1);

        var summary = TorchTrainer.Train(model, train.Source(), validation.Source(), train.Classes, options, seed: 1);

        var losses = summary.History.Select(e => e.ValidationLoss!.Value).ToArray();
        Assert.True(losses.Zip(losses.Skip(1), (a, b) => b < a).All(x => x), $"premise: the validation loss falls every epoch\n{summary.ToTable()}");
        Assert.Equal(10, summary.History.Count);
        Assert.False(summary.StoppedEarly);
        Assert.Equal(10, summary.BestEpoch);
        Assert.Equal(10, summary.KeptEpoch);
    }

    [Theory]
    [InlineData("exponential")]
    [InlineData("step")]
    public void Given_a_schedule_and_two_parameter_groups_When_training_Then_every_groups_rate_in_every_epoch_equals_the_formula(string schedule)
    {
        int[] shape = [16];
        var data = Clusters.Make(3, 10, shape, seed: 31);
        LearningRateSchedule s = schedule == "exponential" ? LearningRateSchedule.Exponential(0.8) : LearningRateSchedule.Step(3, 0.5);
        Func<int, double> factor = schedule == "exponential" ? e => Math.Pow(0.8, e - 1) : e => Math.Pow(0.5, (e - 1) / 3);
        using var model = HeadNetwork.Build(CustomHeadOptions.FlattenDense256(), shape, 3, seed: 1);
        var groups = new[]
        {
            new ParameterGroup("dense", Parameters(model, "dense"), 1e-3),
            new ParameterGroup("classifier", Parameters(model, "classifier"), 1e-2),
        };
        var rates = new List<IReadOnlyList<double>>();

        var summary = TorchTrainer.Train(model, data.Source(), null, data.Classes, new TrainingOptions { Epochs = 7, EarlyStopping = null, Schedule = s }, seed: 1, new TrainerContext { Groups = groups, Hooks = new TrainerHooks { EpochStarting = (_, r) => rates.Add(r) } });

        Assert.Equal(7, rates.Count);
        for (var e = 1; e <= 7; e++)
        {
            Assert.Equal(1e-3 * factor(e), rates[e - 1][0], 15);
            Assert.Equal(1e-2 * factor(e), rates[e - 1][1], 15);
            Assert.Equal(1e-3 * factor(e), summary.History[e - 1].LearningRate, 15);
        }
    }

    [Fact]
    public void Given_a_parameter_group_with_rate_zero_When_training_Then_only_the_other_groups_weights_change()
    {
        int[] shape = [16];
        var data = Clusters.Make(3, 10, shape, seed: 32);
        using var model = HeadNetwork.Build(CustomHeadOptions.FlattenDense256(), shape, 3, seed: 1);
        var before = Weights(model);

        TorchTrainer.Train(model, data.Source(), null, data.Classes, Quiet, seed: 1, new TrainerContext { Groups = [new ParameterGroup("frozen", Parameters(model, "dense"), 0), new ParameterGroup("head", Parameters(model, "classifier"), 1e-2)] });

        var after = Weights(model);
        Assert.Equal(before["dense.weight"], after["dense.weight"]);
        Assert.Equal(before["dense.bias"], after["dense.bias"]);
        Assert.NotEqual(before["classifier.weight"], after["classifier.weight"]);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Given_the_same_gradients_When_Adam_steps_fused_or_in_tensor_operations_Then_it_matches_TorchSharps_Adam_with_parameter_groups_and_weight_decay(bool fused)
    {
        int[] shape = [37];
        var data = Clusters.Make(3, 10, shape, seed: 33);
        using var reference = HeadNetwork.Build(CustomHeadOptions.FlattenDense256(), shape, 3, seed: 4);
        using var ours = HeadNetwork.Build(CustomHeadOptions.FlattenDense256(), shape, 3, seed: 4);
        using var torchAdam = new TorchSharp.Modules.Adam(
            [new TorchSharp.Modules.Adam.ParamGroup(Parameters(reference, "dense"), 1e-3, 0.9, 0.999, 1e-7, 0.01), new TorchSharp.Modules.Adam.ParamGroup(Parameters(reference, "classifier"), 5e-3, 0.9, 0.999, 1e-7, 0.01)],
            1e-3, 0.9, 0.999, 1e-7, 0.01);
        using var adam = new AdamOptimizer([new ParameterGroup("dense", Parameters(ours, "dense"), 1e-3), new ParameterGroup("classifier", Parameters(ours, "classifier"), 5e-3)], 0.9, 0.999, 1e-7, 0.01, fuse: fused);
        var source = data.Source();
        int[] all = [.. Enumerable.Range(0, source.Count)];
        for (var step = 0; step < 6; step++)
        {
            using var scope = NewDisposeScope();
            var inputs = source.Inputs(all, true, new Random(0));
            var targets = tensor(data.Labels.Select(l => (long)l).ToArray());
            torchAdam.zero_grad();
            ClassificationLoss.Mean(reference.call(inputs), targets, 0, null).backward();
            torchAdam.step();
            adam.ZeroGrad();
            ClassificationLoss.Mean(ours.call(inputs), targets, 0, null).backward();
            adam.Step();
        }

        var expected = Weights(reference);
        var actual = Weights(ours);
        foreach (var (name, values) in expected)
        {
            var largest = values.Zip(actual[name], (a, b) => Math.Abs(a - b)).Max();
            Assert.True(largest < 1e-6, $"{name}: largest difference {largest}");
        }

        Assert.NotEqual(Weights(HeadNetwork.Build(CustomHeadOptions.FlattenDense256(), shape, 3, seed: 4))["dense.weight"], actual["dense.weight"]);
    }

    [Fact]
    public void Given_Adam_in_tensor_operations_When_its_state_is_written_and_read_into_a_new_optimizer_Then_the_next_steps_are_the_same()
    {
        int[] shape = [19];
        var data = Clusters.Make(3, 8, shape, seed: 35);
        using var first = HeadNetwork.Build(CustomHeadOptions.FlattenDense256(), shape, 3, seed: 6);
        using var second = HeadNetwork.Build(CustomHeadOptions.FlattenDense256(), shape, 3, seed: 6);
        var source = data.Source();
        int[] all = [.. Enumerable.Range(0, source.Count)];
        void Steps(TorchSharp.torch.nn.Module<Tensor, Tensor> model, AdamOptimizer adam, int count)
        {
            for (var step = 0; step < count; step++)
            {
                using var scope = NewDisposeScope();
                adam.ZeroGrad();
                ClassificationLoss.Mean(model.call(source.Inputs(all, true, new Random(0))), tensor(data.Labels.Select(l => (long)l).ToArray()), 0, null).backward();
                adam.Step();
            }
        }

        using var uninterrupted = new AdamOptimizer([new ParameterGroup("all", [.. first.parameters()], 1e-2)], 0.9, 0.999, 1e-7, 0.01, fuse: false);
        Steps(first, uninterrupted, 3);
        using var state = new MemoryStream();
        using (var writer = new BinaryWriter(state, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            uninterrupted.Write(writer);
        }

        // The second model takes the first's weights after three steps and a new optimizer the written state.
        using (no_grad())
        {
            foreach (var (to, from) in second.parameters().Zip(first.parameters()))
            {
                to.copy_(from);
            }
        }

        using var resumed = new AdamOptimizer([new ParameterGroup("all", [.. second.parameters()], 1e-2)], 0.9, 0.999, 1e-7, 0.01, fuse: false);
        state.Position = 0;
        using (var reader = new BinaryReader(state))
        {
            resumed.Read(reader);
        }

        Steps(first, uninterrupted, 2);
        Steps(second, resumed, 2);

        Assert.Equal(Weights(first), Weights(second));
    }

    [Fact]
    public void Given_reduce_on_plateau_When_the_validation_loss_stops_improving_Then_the_rate_drops_by_the_factor_after_patience_epochs()
    {
        int[] shape = [64];
        var train = Clusters.Make(4, 6, shape, seed: 11, separation: 0.4, flipFraction: 0.5);
        var validation = Clusters.Make(4, 30, shape, seed: 12, separation: 0.4);
        var plateau = new ReduceOnPlateauOptions { Factor = 0.5, Patience = 2 };
        var options = new TrainingOptions { Epochs = 12, BatchSize = 8, LearningRate = 0.05, Schedule = LearningRateSchedule.None, EarlyStopping = null, ReduceOnPlateau = plateau };
        using var model = HeadNetwork.Build(CustomHeadOptions.FlattenDense256(), shape, 4, seed: 5);

        var summary = TorchTrainer.Train(model, train.Source(), validation.Source(), train.Classes, options, seed: 5);

        output.WriteLine(summary.ToTable());
        double best = double.PositiveInfinity, rate = 0.05;
        var wait = 0;
        foreach (var epoch in summary.History)
        {
            Assert.Equal(rate, epoch.LearningRate, 15);
            if (epoch.ValidationLoss < best)
            {
                best = epoch.ValidationLoss.Value;
                wait = 0;
            }
            else if (++wait >= plateau.Patience)
            {
                rate *= plateau.Factor;
                wait = 0;
            }
        }

        Assert.True(summary.History[^1].LearningRate <= 0.05 * 0.25, $"at least two reductions happened\n{summary.ToTable()}");
    }

    [Fact]
    public void Given_a_two_example_batch_When_label_smoothing_and_class_weights_are_applied_Then_the_loss_equals_the_hand_computation()
    {
        TorchRuntime.EnsureInitialized();
        double[][] logits = [[2, 1, 0], [0.5, 0.5, 3]];
        int[] targets = [0, 2];
        double[] classWeight = [2, 1, 0.5];

        // -sum_c q_c log softmax(z)_c, q = (1 - s) onehot + s / k; the batch loss is the weighted mean.
        double Hand(double smoothing, bool weighted)
        {
            double sum = 0, weights = 0;
            for (var i = 0; i < 2; i++)
            {
                var logSumExp = Math.Log(logits[i].Sum(Math.Exp));
                double loss = 0;
                for (var c = 0; c < 3; c++)
                {
                    var q = ((c == targets[i] ? 1 : 0) * (1 - smoothing)) + (smoothing / 3);
                    loss -= q * (logits[i][c] - logSumExp);
                }

                var w = weighted ? classWeight[targets[i]] : 1;
                sum += w * loss;
                weights += w;
            }

            return sum / weights;
        }

        using var scope = NewDisposeScope();
        var z = tensor(logits.SelectMany(r => r.Select(v => (float)v)).ToArray(), [2, 3]);
        var y = tensor(targets.Select(t => (long)t).ToArray());
        var w = tensor(targets.Select(t => (float)classWeight[t]).ToArray());
        double Loss(double smoothing, Tensor? weights) => ClassificationLoss.Mean(z, y, smoothing, weights).item<float>();

        Assert.Equal(Hand(0, false), Loss(0, null), 6);
        Assert.Equal(Hand(0.1, false), Loss(0.1, null), 6);
        Assert.Equal(Hand(0, true), Loss(0, w), 6);
        Assert.Equal(Hand(0.1, true), Loss(0.1, w), 6);
        Assert.NotEqual(Hand(0, false), Hand(0.1, false), 3);
        Assert.NotEqual(Hand(0, false), Hand(0, true), 3);

        // Without weights, and with weights but no smoothing, this is PyTorch's cross_entropy.
        Assert.Equal(functional.cross_entropy(z, y).item<float>(), Loss(0, null), 6);
        Assert.Equal(functional.cross_entropy(z, y, label_smoothing: 0.1).item<float>(), Loss(0.1, null), 6);
        Assert.Equal(functional.cross_entropy(z, y, weight: tensor(classWeight.Select(v => (float)v).ToArray())).item<float>(), Loss(0, w), 6);
    }

    [Fact]
    public void Given_unbalanced_labels_When_class_weights_are_balanced_Then_each_class_weighs_n_over_k_times_its_count()
    {
        var weights = ClassWeights.Balanced.Resolve(["a", "b", "c"], [0, 0, 0, 1]);
        Assert.Equal([4f / (2 * 3), 4f / (2 * 1), 1f], weights);
        Assert.Equal([3f, 1f, 1f], ClassWeights.Explicit(new Dictionary<string, double> { ["a"] = 3 }).Resolve(["a", "b", "c"], [0]));
        Assert.Throws<ArgumentException>(() => ClassWeights.Explicit(new Dictionary<string, double> { ["zebra"] = 3 }).Resolve(["a", "b"], [0]));
    }

    [Fact]
    public void Given_the_same_seed_When_trained_twice_Then_every_weight_is_bit_identical_and_another_seed_gives_other_weights()
    {
        int[] shape = [16, 2, 2];
        var train = Clusters.Make(4, 20, shape, seed: 41, flipFraction: 0.2);
        var validation = Clusters.Make(4, 10, shape, seed: 42);
        var options = new TrainingOptions { Epochs = 4, BatchSize = 16, LabelSmoothing = 0.1, ClassWeights = ClassWeights.Balanced, ReduceOnPlateau = new() };

        Dictionary<string, float[]> Run(int seed)
        {
            using var model = HeadNetwork.Build(CustomHeadOptions.Mlp(0.3, 32, 16), shape, 4, seed);
            TorchTrainer.Train(model, train.Source(), validation.Source(), train.Classes, options, seed);
            return Weights(model);
        }

        var first = Run(7);
        AssertSameWeights(first, Run(7));
        Assert.NotEqual(first["dense1.weight"], Run(8)["dense1.weight"]);
    }

    [Fact]
    public async Task Given_a_long_run_When_cancelled_Then_it_stops_between_batches_long_before_the_run_would_end()
    {
        int[] shape = [2048];
        var data = Clusters.Make(10, 300, shape, seed: 51);
        using var model = HeadNetwork.Build(CustomHeadOptions.FlattenDense256(), shape, 10, seed: 1);
        using var cts = new CancellationTokenSource();
        var batches = 0;
        var started = new TaskCompletionSource();
        var progress = new Inline<TrainingProgress>(_ =>
        {
            Interlocked.Increment(ref batches);
            started.TrySetResult();
        });

        var run = Task.Run(() => TorchTrainer.Train(model, data.Source(), null, data.Classes, new TrainingOptions { Epochs = 1000, EarlyStopping = null }, 1, new TrainerContext { Progress = progress, CancellationToken = cts.Token }));
        await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var watch = Stopwatch.StartNew();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        // 1,000 epochs would take minutes; a stop between batches takes milliseconds (the bound allows for a loaded machine).
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"stopped {watch.Elapsed.TotalMilliseconds:0} ms after cancellation");
        Assert.InRange(Volatile.Read(ref batches), 1, 94 * 50);
    }

    [Fact]
    public void Given_many_epochs_When_the_dispose_scope_statistics_are_read_after_each_Then_the_live_tensor_count_does_not_grow()
    {
        int[] shape = [128];
        var train = Clusters.Make(10, 150, shape, seed: 61, separation: 0.3);
        var validation = Clusters.Make(10, 30, shape, seed: 62, separation: 0.3);
        var options = new TrainingOptions { Epochs = 8, LabelSmoothing = 0.1, ClassWeights = ClassWeights.Balanced, EarlyStopping = new EarlyStoppingOptions { Patience = 100 }, ReduceOnPlateau = new() };
        var statistics = DisposeScopeManager.Statistics;
        var live = new List<long>();
        var workingSet = new List<long>();
        var createdBefore = statistics.CreatedInScopeCount;
        using var model = HeadNetwork.Build(CustomHeadOptions.Mlp(0.2, 256, 128), shape, 10, seed: 1);

        TorchTrainer.Train(model, train.Source(), validation.Source(), train.Classes, options, 1, new TrainerContext { Hooks = new TrainerHooks
        {
            EpochEnded = (_, _) =>
            {
                live.Add(statistics.ThreadTotalLiveCount);
                workingSet.Add(Environment.WorkingSet);
            },
        } });

        output.WriteLine($"live tensors after each epoch: {string.Join(", ", live)}");
        output.WriteLine($"working set after each epoch (MB): {string.Join(", ", workingSet.Select(w => w / (1 << 20)))}");
        Assert.Equal(8, live.Count);
        Assert.All(live, count => Assert.Equal(live[0], count));
        Assert.True(statistics.CreatedInScopeCount - createdBefore > 8 * 47 * 5, "the steps create their tensors inside dispose scopes");
    }

    [Fact]
    public void Given_invalid_options_When_validated_Then_one_exception_lists_every_problem()
    {
        var e = Assert.Throws<ArgumentException>(() => new TrainingOptions
        {
            Epochs = 0,
            BatchSize = 0,
            LearningRate = -1,
            Beta2 = 1,
            LabelSmoothing = 1,
            ValidationFraction = -0.1,
            Schedule = LearningRateSchedule.Step(0, 2),
            EarlyStopping = new EarlyStoppingOptions { Patience = 0 },
            ReduceOnPlateau = new ReduceOnPlateauOptions { Factor = 1 },
            ClassWeights = ClassWeights.Explicit(new Dictionary<string, double> { ["a"] = -1 }),
        }.Validate());
        foreach (var word in new[] { "Epochs", "BatchSize", "LearningRate", "Beta2", "LabelSmoothing", "ValidationFraction", "StepSize", "Gamma", "Patience", "Factor", "'a'" })
        {
            Assert.Contains(word, e.Message, StringComparison.Ordinal);
        }

        var head = Assert.Throws<ArgumentException>(() => CustomHeadOptions.Mlp(1.5).Validate());
        Assert.Contains("HiddenSizes", head.Message, StringComparison.Ordinal);
        Assert.Contains("Dropout", head.Message, StringComparison.Ordinal);
        Assert.Empty(HeadConfiguration.Custom().Validate());
        Assert.Equal(3, HeadConfiguration.Custom(CustomHeadOptions.Mlp(1.5), new TrainingOptions { Epochs = 0 }).Validate().Count);
    }

    [Fact]
    public void Given_the_defaults_Then_they_are_the_studys()
    {
        var o = new TrainingOptions();
        Assert.Equal((10, 32, 1e-3, 0.9, 0.999, 0.0), (o.Epochs, o.BatchSize, o.LearningRate, o.Beta1, o.Beta2, o.WeightDecay));
        Assert.Equal(LearningRateSchedule.Exponential(0.9), o.Schedule);
        Assert.Equal(0.9 * 0.9 * 0.9, o.Schedule.Factor(4), 15);
        Assert.NotNull(o.EarlyStopping);
        Assert.Equal((TrainingMetric.ValidationLoss, 3, 0.0, true), (o.EarlyStopping.Monitor, o.EarlyStopping.Patience, o.EarlyStopping.MinDelta, o.EarlyStopping.RestoreBestWeights));
        Assert.Null(o.ReduceOnPlateau);
        Assert.Equal("TorchSharp FlattenDense256", HeadConfiguration.Custom(CustomHeadOptions.FlattenDense256()).Description);
        Assert.Equal("TorchSharp Mlp(512-256, dropout 0.3)", HeadConfiguration.Custom(CustomHeadOptions.Mlp(0.3, 512, 256)).Description);
        Assert.Equal("TorchSharp", HeadConfiguration.Custom().TrainingPath);
    }

    internal static Dictionary<string, float[]> Weights(Module model) =>
        model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.data<float>().ToArray(), StringComparer.Ordinal);

    internal static void AssertSameWeights(Dictionary<string, float[]> expected, Dictionary<string, float[]> actual)
    {
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, values) in expected)
        {
            Assert.True(values.AsSpan().SequenceEqual(actual[name]), $"{name} differs");
        }
    }

    private static TorchSharp.Modules.Parameter[] Parameters(Module model, string layer) =>
        model.named_parameters().Where(p => p.name.StartsWith(layer + ".", StringComparison.Ordinal)).Select(p => p.parameter).ToArray();

    private sealed class Inline<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
