using PokeClassifier.Training.Custom;
using PokeClassifier.Training;
using static TorchSharp.torch;

namespace PokeClassifier.Tests.Training.Custom;

/// <summary>Mixup and CutMix of training batches: the draws, the mixed inputs, the mixed loss, and runs that use them.</summary>
[Collection(LibTorchThreads.Name)]
public sealed class MixingTests
{
    private static float[] Values(Tensor t) => t.contiguous().data<float>().ToArray();

    [Theory]
    [InlineData(0.2)]
    [InlineData(1.0)]
    [InlineData(2.5)]
    public void Given_alpha_When_many_mixing_weights_are_drawn_Then_their_mean_and_variance_are_those_of_Beta_alpha_alpha(double alpha)
    {
        var random = new Random(7);
        var draws = Enumerable.Range(0, 40_000).Select(_ => BatchMixer.Beta(random, alpha)).ToArray();
        var mean = draws.Average();
        var variance = draws.Select(d => (d - mean) * (d - mean)).Average();

        Assert.All(draws, d => Assert.InRange(d, 0, 1));
        Assert.InRange(mean, 0.49, 0.51);
        var expected = 1 / (4 * ((2 * alpha) + 1));
        Assert.InRange(variance, expected * 0.95, expected * 1.05);
    }

    [Fact]
    public void Given_a_batch_When_mixed_up_Then_each_row_is_lambda_times_itself_plus_the_rest_of_its_partner_and_partners_are_a_permutation()
    {
        using var scope = NewDisposeScope();
        var x = arange(0, 6 * 4, dtype: ScalarType.Float32).reshape(6, 4);

        var mixed = BatchMixer.Mix(MixingOptions.Mixup(0.4), x, new Random(3))!;

        var partners = mixed.Partners.data<long>().ToArray();
        Assert.Equal(Enumerable.Range(0, 6).Select(i => (long)i), partners.Order());
        Assert.InRange(mixed.Lambda, 0, 1);
        var rows = Values(x);
        var result = Values(mixed.Inputs);
        for (var i = 0; i < 6; i++)
        {
            for (var j = 0; j < 4; j++)
            {
                Assert.Equal((mixed.Lambda * rows[(i * 4) + j]) + ((1 - mixed.Lambda) * rows[(partners[i] * 4) + j]), result[(i * 4) + j], 4);
            }
        }
    }

    [Fact]
    public void Given_image_batches_When_cut_mixed_Then_the_box_holds_the_partner_the_rest_the_image_and_lambda_is_the_kept_area()
    {
        using var scope = NewDisposeScope();
        var x = rand(new long[] { 5, 3, 16, 20 }, generator: manual_seed(1));
        var random = new Random(11);
        var options = MixingOptions.CutMix();

        var mixed = BatchMixer.Mix(options, x, random)!;

        // Replay the draws to get the box the mixer cut.
        var replay = new Random(11);
        _ = replay.NextDouble();
        var lambda = BatchMixer.Beta(replay, options.Alpha);
        for (var i = 4; i > 0; i--)
        {
            _ = replay.Next(i + 1);
        }

        var (top, bottom, left, right) = BatchMixer.Box(16, 20, lambda, replay.NextDouble(), replay.NextDouble());
        Assert.True(bottom > top && right > left, "the drawn box is empty; pick another seed");
        Assert.Equal(1 - ((double)(bottom - top) * (right - left) / (16 * 20)), mixed.Lambda, 10);
        var partners = mixed.Partners.data<long>().ToArray();
        var inputs = x.data<float>().ToArray();
        var output = mixed.Inputs.contiguous().data<float>().ToArray();
        for (var n = 0; n < 5; n++)
        {
            for (var c = 0; c < 3; c++)
            {
                for (var h = 0; h < 16; h++)
                {
                    for (var w = 0; w < 20; w++)
                    {
                        var inside = h >= top && h < bottom && w >= left && w < right;
                        var source = inside ? partners[n] : n;
                        Assert.Equal(inputs[(((source * 3) + c) * 16 * 20) + (h * 20) + w], output[(((n * 3) + c) * 16 * 20) + (h * 20) + w]);
                    }
                }
            }
        }
    }

    [Fact]
    public void Given_a_mixed_batch_When_its_loss_is_computed_Then_it_equals_the_hand_computed_blend_of_both_labels_cross_entropies()
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new float[] { 2, 0, -1, 0.5f, 1.5f, 0, -0.5f, 0, 3 }, [3, 3]);
        var targets = tensor(new long[] { 0, 1, 2 });
        var weights = tensor(new float[] { 1, 2, 0.5f });
        var mixed = new MixedBatch(logits, tensor(new long[] { 2, 0, 1 }), 0.7);

        var loss = ClassificationLoss.Mixed(logits, targets, mixed, smoothing: 0.1, weights).item<float>();

        double Ce(float[] row, int y)
        {
            var max = row.Max();
            var logSum = Math.Log(row.Sum(v => Math.Exp(v - max))) + max;
            var logP = row.Select(v => v - logSum).ToArray();
            return (0.9 * -logP[y]) + (0.1 * -logP.Average());
        }

        float[][] rows = [[2, 0, -1], [0.5f, 1.5f, 0], [-0.5f, 0, 3]];
        int[] own = [0, 1, 2], partner = [2, 0, 1];
        double[] w = [1, 2, 0.5], wPartner = [0.5, 1, 2];
        var ownLoss = Enumerable.Range(0, 3).Sum(i => w[i] * Ce(rows[i], own[i])) / w.Sum();
        var partnerLoss = Enumerable.Range(0, 3).Sum(i => wPartner[i] * Ce(rows[i], partner[i])) / wPartner.Sum();
        Assert.Equal((0.7 * ownLoss) + (0.3 * partnerLoss), loss, 5);
    }

    [Fact]
    public void Given_probability_below_one_When_many_batches_are_drawn_Then_that_share_is_mixed_and_each_call_draws_the_same_count()
    {
        using var scope = NewDisposeScope();
        var x = ones(4, 3);
        var options = new MixingOptions { Probability = 0.3 };
        var random = new Random(5);
        var mixedCount = 0;
        for (var i = 0; i < 2000; i++)
        {
            mixedCount += BatchMixer.Mix(options, x, random) is null ? 0 : 1;
        }

        Assert.InRange(mixedCount / 2000.0, 0.26, 0.34);

        // A plain batch draws as many numbers as a mixed one: the next draw is the same either way.
        var a = new Random(9);
        var b = new Random(9);
        _ = BatchMixer.Mix(new MixingOptions { Probability = 1e-9 }, x, a);
        _ = BatchMixer.Mix(new MixingOptions { Probability = 1 }, x, b);
        Assert.Equal(a.Next(), b.Next());
    }

    [Fact]
    public void Given_mixup_When_a_head_trains_on_separable_clusters_Then_it_learns_them_and_the_same_seed_gives_the_same_weights()
    {
        var train = Clusters.Make(4, 60, [8, 3, 3], seed: 21, separation: 4);
        var test = Clusters.Make(4, 20, [8, 3, 3], seed: 22, separation: 4);
        var options = TrainingOptions.Recommended with { Epochs = 15, EarlyStopping = null, Mixing = MixingOptions.Mixup(0.4) };

        float[] Run(TrainingOptions o, out double accuracy)
        {
            using var model = HeadNetwork.Build(CustomHeadOptions.GlobalAveragePoolDense(), train.Shape, 4, seed: 2);
            TorchTrainer.Train(model, train.Source(), null, train.Classes, o, seed: 4);
            accuracy = TorchTrainer.Evaluate(model, test.Source(), o, 4, default).Accuracy!.Value;
            return model.parameters().SelectMany(p => p.detach().data<float>().ToArray()).ToArray();
        }

        var first = Run(options, out var accuracy);
        var again = Run(options, out _);
        var plain = Run(options with { Mixing = null }, out var plainAccuracy);
        var cutMix = Run(options with { Mixing = MixingOptions.CutMix() }, out var cutMixAccuracy);

        // Four classes (chance 0.25): mixing regularises, so it may cost a little on an easy problem, never the learning itself.
        Assert.True(accuracy > 0.85 && accuracy >= plainAccuracy - 0.05, $"test accuracy with mixup {accuracy}, without {plainAccuracy}");
        Assert.True(cutMixAccuracy > 0.8 && cutMixAccuracy >= plainAccuracy - 0.1, $"test accuracy with CutMix {cutMixAccuracy}, without {plainAccuracy}");
        Assert.Equal(first, again);
        Assert.NotEqual(first, plain);
        Assert.NotEqual(first, cutMix);
        Assert.Contains("mixup alpha 0.4", options.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Given_CutMix_on_feature_vectors_When_training_Then_it_refuses_with_a_message_that_points_to_mixup()
    {
        var train = Clusters.Make(3, 10, [16], seed: 1);
        using var model = HeadNetwork.Build(CustomHeadOptions.GlobalAveragePoolDense(), train.Shape, 3, seed: 2);

        var e = Assert.Throws<InvalidOperationException>(() => TorchTrainer.Train(
            model, train.Source(), null, train.Classes, new TrainingOptions { Epochs = 1, EarlyStopping = null, Mixing = MixingOptions.CutMix() }, seed: 1));

        Assert.Contains("CutMix pastes rectangles of spatial inputs", e.Message, StringComparison.Ordinal);
        Assert.Contains("use mixup", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_bad_mixing_options_When_validated_Then_every_problem_is_listed()
    {
        var options = new TrainingOptions { Mixing = new MixingOptions { Kind = (MixingKind)7, Alpha = 0, Probability = 1.5 } };

        var e = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("Mixing: Kind must be Mixup or CutMix (was 7).", e.Message, StringComparison.Ordinal);
        Assert.Contains("Mixing: Alpha must be a positive number (was 0).", e.Message, StringComparison.Ordinal);
        Assert.Contains("Mixing: Probability must be above 0 and at most 1 (was 1.5).", e.Message, StringComparison.Ordinal);
    }
}
