using System.Diagnostics;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training;
using static TorchSharp.torch;

namespace PokeClassifier.Tests.Training.Custom;

/// <summary>The loop's callbacks: a user's own callback, the time limit, checkpoints and resuming, the recommended head loop.</summary>
public sealed class TrainingCallbackTests
{
    [Fact]
    public void Given_a_user_callback_that_requests_a_stop_after_epoch_3_When_training_Then_training_ends_there_with_the_reason()
    {
        var data = Clusters.Make(4, 40, [16], seed: 1);
        using var model = HeadNetwork.Build(CustomHeadOptions.GlobalAveragePoolDense(), data.Shape, 4, seed: 2);
        var callback = new StopAfter(3);

        var summary = TorchTrainer.Train(model, data.Source(), null, data.Classes, new TrainingOptions { Epochs = 10, EarlyStopping = null, Callbacks = [callback] }, seed: 1);

        Assert.Equal(3, summary.History.Count);
        Assert.True(summary.StoppedEarly);
        Assert.StartsWith("enough at epoch 3", summary.StopReason, StringComparison.Ordinal);
        Assert.Equal([1, 2, 3], callback.Epochs);
        Assert.Equal(3 * 5, callback.Batches);
    }

    [Fact]
    public void Given_a_time_limit_shorter_than_the_epochs_need_When_training_Then_it_stops_within_the_limit_mid_epoch()
    {
        var data = Clusters.Make(4, 500, [64, 4, 4], seed: 1);
        using var model = HeadNetwork.Build(CustomHeadOptions.FlattenDense256(), data.Shape, 4, seed: 2);
        var slow = new SlowBatches(TimeSpan.FromMilliseconds(20));
        var limit = TimeSpan.FromSeconds(1.5);

        var summary = TorchTrainer.Train(model, data.Source(), null, data.Classes, new TrainingOptions { Epochs = 100, BatchSize = 16, EarlyStopping = null, TimeLimit = limit, Callbacks = [slow] }, seed: 1);

        Assert.True(summary.StoppedEarly, summary.StopReason);
        Assert.Contains("time limit", summary.StopReason, StringComparison.Ordinal);
        // The limit is checked between batches: the run may pass it by at most the batch in flight and the end-of-run work.
        // The slack allows for a shared, loaded machine; the point is that it stops mid-epoch long before 100 epochs.
        var slack = 2 * slow.LongestBatch.TotalSeconds + 1.0;
        Assert.True(summary.Seconds <= limit.TotalSeconds + slack, $"{summary.Seconds} s for a limit of {limit.TotalSeconds} s (longest batch {slow.LongestBatch.TotalMilliseconds:0} ms)");
        Assert.True(slow.Batches > 10, $"{slow.Batches} batches");
    }

    [Fact]
    public void Given_a_run_interrupted_after_epoch_3_When_it_is_resumed_from_its_checkpoint_Then_the_final_weights_equal_an_uninterrupted_run()
    {
        var train = Clusters.Make(5, 60, [24], seed: 3);
        var validation = Clusters.Make(5, 12, [24], seed: 4);
        var dir = TestImages.NewTempDir("checkpoint");
        var options = TrainingOptions.Recommended with { Epochs = 7, EarlyStopping = new EarlyStoppingOptions { Monitor = TrainingMetric.ValidationMacroF1, Patience = 7 } };

        using var reference = HeadNetwork.Build(new CustomHeadOptions { Kind = CustomHeadKind.Mlp, HiddenSizes = [32], Dropout = 0.3 }, train.Shape, 5, seed: 9);
        var expected = TorchTrainer.Train(reference, train.Source(), validation.Source(), train.Classes, options, seed: 11);

        var checkpoint = Path.Combine(dir, "run.ckpt");
        using var interrupted = HeadNetwork.Build(new CustomHeadOptions { Kind = CustomHeadKind.Mlp, HiddenSizes = [32], Dropout = 0.3 }, train.Shape, 5, seed: 9);
        Assert.Throws<OperationCanceledException>(() => TorchTrainer.Train(
            interrupted, train.Source(), validation.Source(), train.Classes, options with { CheckpointPath = checkpoint, Callbacks = [new CrashAfter(3)] }, seed: 11));
        Assert.True(File.Exists(checkpoint));

        using var resumed = HeadNetwork.Build(new CustomHeadOptions { Kind = CustomHeadKind.Mlp, HiddenSizes = [32], Dropout = 0.3 }, train.Shape, 5, seed: 9);
        var summary = TorchTrainer.Train(resumed, train.Source(), validation.Source(), train.Classes, options with { CheckpointPath = checkpoint, Resume = true }, seed: 11);

        Assert.Equal(expected.History.Select(e => e.TrainLoss), summary.History.Select(e => e.TrainLoss));
        Assert.Equal(expected.KeptEpoch, summary.KeptEpoch);
        Assert.Equal(Weights(reference), Weights(resumed));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
    }

    [Fact]
    public void Given_weight_averaging_over_the_second_half_When_training_6_epochs_Then_the_model_holds_the_mean_of_epochs_3_to_6()
    {
        var data = Clusters.Make(4, 40, [16], seed: 1);
        using var model = HeadNetwork.Build(new CustomHeadOptions { Kind = CustomHeadKind.Mlp, HiddenSizes = [8] }, data.Shape, 4, seed: 2);
        var recorder = new WeightsPerEpoch();
        var options = TrainingOptions.Recommended with { Epochs = 6, EarlyStopping = null, WeightAveraging = new WeightAveragingOptions(), Callbacks = [recorder] };

        var summary = TorchTrainer.Train(model, data.Source(), null, data.Classes, options, seed: 1);

        var expected = Enumerable.Range(0, recorder.Epochs[0].Length).Select(i => recorder.Epochs.Skip(2).Average(w => w[i])).ToArray();
        var actual = Weights(model);
        Assert.Equal(6, recorder.Epochs.Count);
        Assert.All(expected.Zip(actual), p => Assert.Equal(p.First, p.Second, 1e-5));
        Assert.NotEqual(recorder.Epochs[^1], actual);
        Assert.Equal(3, summary.AveragedFromEpoch);
        Assert.Equal(6, summary.KeptEpoch);
        Assert.Contains("weights averaged over epochs 3-6", summary.StopReason, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_weight_averaging_When_a_run_interrupted_inside_the_averaged_epochs_is_resumed_Then_its_final_weights_equal_an_uninterrupted_run()
    {
        var train = Clusters.Make(5, 60, [24], seed: 3);
        var options = TrainingOptions.Recommended with { Epochs = 6, EarlyStopping = null, WeightAveraging = new WeightAveragingOptions() };
        var head = new CustomHeadOptions { Kind = CustomHeadKind.Mlp, HiddenSizes = [32] };
        using var reference = HeadNetwork.Build(head, train.Shape, 5, seed: 9);
        TorchTrainer.Train(reference, train.Source(), null, train.Classes, options, seed: 11);

        var checkpoint = Path.Combine(TestImages.NewTempDir("checkpoint"), "run.ckpt");
        using var interrupted = HeadNetwork.Build(head, train.Shape, 5, seed: 9);
        Assert.Throws<OperationCanceledException>(() => TorchTrainer.Train(
            interrupted, train.Source(), null, train.Classes, options with { CheckpointPath = checkpoint, Callbacks = [new CrashAfter(4)] }, seed: 11));
        using var resumed = HeadNetwork.Build(head, train.Shape, 5, seed: 9);
        var summary = TorchTrainer.Train(resumed, train.Source(), null, train.Classes, options with { CheckpointPath = checkpoint, Resume = true }, seed: 11);

        Assert.Equal(3, summary.AveragedFromEpoch);
        Assert.Equal(Weights(reference), Weights(resumed));
    }

    [Fact]
    public void Given_weight_averaging_and_restore_best_together_When_validating_Then_one_error_says_to_turn_one_off()
    {
        var options = TrainingOptions.Recommended with { WeightAveraging = new WeightAveragingOptions { StartFraction = 1.5 } };

        var error = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("StartFraction must be at least 0 and below 1 (was 1.5)", error.Message, StringComparison.Ordinal);
        Assert.Contains("both choose the final weights", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_a_checkpoint_of_another_run_When_resuming_Then_a_clear_error_names_the_file()
    {
        var train = Clusters.Make(3, 20, [8], seed: 3);
        var checkpoint = Path.Combine(TestImages.NewTempDir("checkpoint"), "run.ckpt");
        using var first = HeadNetwork.Build(CustomHeadOptions.GlobalAveragePoolDense(), train.Shape, 3, seed: 1);
        TorchTrainer.Train(first, train.Source(), null, train.Classes, new TrainingOptions { Epochs = 2, EarlyStopping = null, CheckpointPath = checkpoint }, seed: 1);

        using var other = HeadNetwork.Build(CustomHeadOptions.GlobalAveragePoolDense(), train.Shape, 3, seed: 1);
        var error = Assert.Throws<InvalidDataException>(() => TorchTrainer.Train(other, train.Source(), null, train.Classes, new TrainingOptions { Epochs = 5, LearningRate = 0.01, EarlyStopping = null, CheckpointPath = checkpoint, Resume = true }, seed: 1));

        Assert.Contains(checkpoint, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_separable_features_When_the_study_head_trains_with_the_recommended_loop_Then_its_macro_F1_matches_ML_NET_LBFGS_within_001()
    {
        var train = Clusters.Make(8, 80, [32], seed: 5, separation: 0.45);
        var test = Clusters.Make(8, 60, [32], seed: 6, separation: 0.45);
        var validation = Clusters.Make(8, 15, [32], seed: 7, separation: 0.45);
        using var model = HeadNetwork.Build(CustomHeadOptions.GlobalAveragePoolDense(), train.Shape, 8, seed: 2);

        TorchTrainer.Train(model, train.Source(), validation.Source(), train.Classes, TrainingOptions.Recommended, seed: 1);
        var recommended = TorchTrainer.Evaluate(model, test.Source(), TrainingOptions.Recommended, 8, default).MacroF1!.Value;

        using var study = HeadNetwork.Build(CustomHeadOptions.GlobalAveragePoolDense(), train.Shape, 8, seed: 2);
        TorchTrainer.Train(study, train.Source(), validation.Source(), train.Classes, TrainingOptions.Study, seed: 1);
        var studyF1 = TorchTrainer.Evaluate(study, test.Source(), TrainingOptions.Study, 8, default).MacroF1!.Value;

        var head = MLNetHead.Train(train.Classes, train.LabelNames, train.Rows, train.Shape, new MLNetHeadOptions(), seed: 1, default);
        var lbfgs = TorchTrainer.MacroF1(test.Labels, head.Score(test.Rows).Select(s => Array.IndexOf(s, s.Max())).ToArray(), 8);

        Assert.True(Math.Abs(recommended - lbfgs) <= 0.01 || recommended > lbfgs, $"recommended loop {recommended:0.0000}, L-BFGS {lbfgs:0.0000}, study loop {studyF1:0.0000}");
        Assert.True(lbfgs < 0.999, $"the clusters must not be trivially separable (L-BFGS {lbfgs})");
    }

    [Fact]
    public void Given_the_warm_up_cosine_schedule_When_read_per_step_Then_it_rises_linearly_peaks_and_ends_at_the_final_factor()
    {
        var schedule = LearningRateSchedule.WarmupCosine(0.2, 0.1);

        Assert.Equal(0.5, schedule.Factor(1, 0.1), 6);
        Assert.Equal(1.0, schedule.Factor(1, 0.2), 6);
        Assert.Equal(0.55, schedule.Factor(3, 0.6), 6);
        Assert.Equal(0.1, schedule.Factor(5, 1.0), 6);
        Assert.Contains("WarmupFraction", string.Join(" ", new TrainingOptions { Schedule = LearningRateSchedule.WarmupCosine(1.5) }.Problems()), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Given_AdamW_When_a_weight_has_no_gradient_signal_Then_it_decays_by_lr_times_weight_decay_each_step(bool fused)
    {
        using var p = new TorchSharp.Modules.Parameter(ones(4));
        p.grad = zeros(4);
        using var optimizer = new AdamOptimizer([new ParameterGroup("p", [p], 0.1)], 0.9, 0.999, 1e-8, weightDecay: 0.5, decoupled: true, fuse: fused);

        optimizer.Step();
        optimizer.Step();

        Assert.All(p.data<float>().ToArray(), v => Assert.Equal(0.95f * 0.95f, v, 5));
    }

    private static float[] Weights(TorchSharp.torch.nn.Module<Tensor, Tensor> model) =>
        model.parameters().SelectMany(p => p.data<float>().ToArray()).ToArray();

    private sealed class StopAfter(int epoch) : ITrainingCallback
    {
        public List<int> Epochs { get; } = [];

        public int Batches { get; private set; }

        public void OnEpochStarting(TrainingState state) => Epochs.Add(state.Epoch);

        public void OnBatchEnded(TrainingState state) => Batches++;

        public void OnEpochEnded(TrainingState state)
        {
            if (state.Epoch == epoch)
            {
                state.RequestStop($"enough at epoch {state.Epoch}");
            }
        }
    }

    private sealed class SlowBatches(TimeSpan delay) : ITrainingCallback
    {
        private readonly Stopwatch _sinceLastBatch = Stopwatch.StartNew();

        public int Batches { get; private set; }

        public TimeSpan LongestBatch { get; private set; }

        public void OnBatchEnded(TrainingState state)
        {
            Batches++;
            Thread.Sleep(delay);
            if (_sinceLastBatch.Elapsed > LongestBatch)
            {
                LongestBatch = _sinceLastBatch.Elapsed;
            }

            _sinceLastBatch.Restart();
        }
    }

    private sealed class WeightsPerEpoch : ITrainingCallback
    {
        public List<float[]> Epochs { get; } = [];

        public void OnEpochEnded(TrainingState state) => Epochs.Add(Weights(state.Network()));
    }

    private sealed class CrashAfter(int epoch) : ITrainingCallback
    {
        public void OnEpochEnded(TrainingState state)
        {
            if (state.Epoch == epoch)
            {
                throw new OperationCanceledException("interrupted");
            }
        }
    }
}
