using PokeClassifier.Tests.Training.Custom;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.LearningRate;
using TorchSharp;
using static TorchSharp.torch;

namespace PokeClassifier.Tests.Devices;

/// <summary>
/// Where a training run computes (<see cref="DevicePlacement"/>). The test machines have no CUDA: the CPU path is checked to move
/// nothing, a CUDA request to fail before anything moves, and the rebinding of parameter groups that a device move needs is checked
/// with a move that replaces every parameter the same way (<c>Module.to</c> of a dtype).
/// </summary>
public sealed class DevicePlacementTests
{
    private static readonly int[] Shape = [8];

    [Fact]
    public void Given_the_CPU_When_a_run_is_placed_Then_the_model_its_groups_and_its_batches_are_the_callers_own_objects()
    {
        using var model = HeadNetwork.Build(CustomHeadOptions.GlobalAveragePoolDense(), Shape, 3, seed: 1);
        var parameters = model.parameters().ToArray();
        ParameterGroup[] groups = [new("all", parameters, 1e-3)];
        using var batch = ones(2, 8);

        using (var placement = DevicePlacement.Enter(model, groups, ComputeDevice.Cpu))
        {
            Assert.True(placement.IsCpu);
            Assert.Same(groups, placement.Groups);
            Assert.Same(batch, placement.Input(batch));
        }

        Assert.All(model.parameters().Zip(parameters), p => Assert.Same(p.Second, p.First));
        Assert.All(parameters, p => Assert.False(p.IsInvalid));
    }

    [Fact]
    public void Given_the_CPU_libtorch_When_training_or_the_learning_rate_finder_asks_for_CUDA_Then_the_error_names_the_CUDA_libtorch_and_the_model_is_untouched()
    {
        var data = Clusters.Make(3, 10, Shape, seed: 2);
        using var model = HeadNetwork.Build(CustomHeadOptions.GlobalAveragePoolDense(), Shape, 3, seed: 2);
        var parameters = model.parameters().ToArray();
        var before = parameters.Select(p => p.detach().clone()).ToArray();
        var cuda = new TrainingOptions { Device = ComputeDevice.Cuda(0), Epochs = 1, EarlyStopping = null };

        var training = Assert.Throws<DeviceUnavailableException>(() => TorchTrainer.Train(model, data.Source(), null, data.Classes, cuda, seed: 2));
        var finder = Assert.Throws<DeviceUnavailableException>(() => LearningRateFinder.Run(model, data.Source(), data.Classes, cuda, new LearningRateFinderOptions { Steps = 10 }, seed: 2));

        foreach (var e in new[] { training, finder })
        {
            Assert.Contains("cuda:0", e.Message, StringComparison.Ordinal);
            Assert.Contains("libtorch-cuda-12.8-linux-x64", e.Message, StringComparison.Ordinal);
        }

        Assert.All(model.parameters().Zip(parameters), p => Assert.Same(p.Second, p.First));
        Assert.All(parameters.Zip(before), p => Assert.True(p.First.allclose(p.Second, 0, 0)));
        Assert.All(before, t => t.Dispose());
    }

    [Fact]
    public void Given_a_move_that_replaces_every_parameter_When_placed_Then_the_groups_hold_the_new_parameters_by_name_and_training_them_trains_the_model()
    {
        using var model = HeadNetwork.Build(CustomHeadOptions.Mlp(0.2, 16), Shape, 3, seed: 3);
        var named = model.named_parameters().ToArray();
        var first = named.Where((_, i) => i < 2).Select(p => p.parameter).ToArray();
        var rest = named.Where((_, i) => i >= 2).Select(p => p.parameter).ToArray();
        ParameterGroup[] groups = [new("first", first, 1e-2, WeightDecay: 0.5), new("rest", rest, 1e-3)];

        // Module.to(dtype) replaces (and frees) each parameter exactly as Module.to(device) does.
        using (var placement = DevicePlacement.Rebind(model, groups, CPU, m => m.to(ScalarType.Float64), m => m.to(ScalarType.Float32)))
        {
            Assert.All(named, p => Assert.True(p.parameter.IsInvalid));
            var now = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            Assert.Equal(["first", "rest"], placement.Groups.Select(g => g.Name));
            Assert.Equal(0.5, placement.Groups[0].WeightDecay);
            Assert.Equal(named.Select(p => p.name), placement.Groups.SelectMany(g => g.Parameters).Select(p => now.Single(n => ReferenceEquals(n.Value, p)).Key));
            Assert.All(placement.Groups.SelectMany(g => g.Parameters), p => Assert.Equal(ScalarType.Float64, p.dtype));

            // One Adam step through the rebound groups changes the model's own (new) weights.
            using var optimizer = new AdamOptimizer(placement.Groups, 0.9, 0.999, 1e-7, 0);
            using var scope = NewDisposeScope();
            var weight = now[named[0].name].detach().clone();
            model.train();
            model.call(ones(4, 8, dtype: ScalarType.Float64)).sum().backward();
            optimizer.Step();
            Assert.False(now[named[0].name].allclose(weight, 0, 0));
        }

        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
    }

    [Fact]
    public void Given_a_group_with_a_parameter_that_is_not_the_models_When_placed_on_another_device_Then_it_is_refused_before_anything_moves()
    {
        using var model = HeadNetwork.Build(CustomHeadOptions.GlobalAveragePoolDense(), Shape, 3, seed: 4);
        using var other = HeadNetwork.Build(CustomHeadOptions.GlobalAveragePoolDense(), Shape, 3, seed: 5);
        var moved = false;

        var e = Assert.Throws<ArgumentException>(() => DevicePlacement.Rebind(
            model, [new("stranger", other.parameters().ToArray(), 1e-3)], CPU, _ => moved = true, _ => { }));

        Assert.Contains("'stranger'", e.Message, StringComparison.Ordinal);
        Assert.False(moved);
    }
}
