using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.FineTuning;
using PokeClassifier.Training;
using static TorchSharp.torch;

namespace PokeClassifier.Tests.Training;

/// <summary>Progressive resizing: the size schedule, the shrunk batches, and a fine-tuning run that uses it.</summary>
public sealed class ProgressiveResizingTests
{
    private static readonly string[] Classes = [.. OnnxExportTests.Drawn.Classes.Take(3)];

    [Fact]
    public void Given_the_defaults_When_sizes_are_asked_for_each_epoch_Then_they_grow_in_multiples_of_32_over_the_first_half_then_stay_full()
    {
        var options = new ProgressiveResizingOptions();

        Assert.Equal([96, 128, 160, 192, 224, 224, 224, 224, 224, 224], Enumerable.Range(1, 10).Select(e => options.SizeAt(e, 10, 224)));
        Assert.Equal([64, 96, 128, 160, 192, 224], Enumerable.Range(1, 6).Select(e => new ProgressiveResizingOptions { StartScale = 0.25, GrowFraction = 1 }.SizeAt(e, 6, 224)));
        Assert.Equal([64, 128, 128, 128], Enumerable.Range(1, 4).Select(e => options.SizeAt(e, 4, 128)));
        Assert.Equal(64, options.StartSize(96));
        Assert.Equal(64, options.StartSize(64));
        Assert.All(Enumerable.Range(1, 5), e => Assert.Equal(224, new ProgressiveResizingOptions { GrowFraction = 0 }.SizeAt(e, 5, 224)));
        Assert.Equal([64, 128, 128, 128, 128], Enumerable.Range(1, 5).Select(e => new ProgressiveResizingOptions { GrowFraction = 0.2 }.SizeAt(e, 5, 128)));
        Assert.Equal([160, 192, 224], Enumerable.Range(1, 3).Select(e => new ProgressiveResizingOptions { StartScale = 0.75, GrowFraction = 1 }.SizeAt(e, 3, 224)));
    }

    [Fact]
    public void Given_a_smaller_training_size_When_batches_are_drawn_Then_training_batches_are_the_area_mean_of_the_full_ones_and_scoring_stays_full()
    {
        TorchRuntime.EnsureInitialized();
        var images = FineTuneImages.Load(OnnxExportTests.Images(Classes.Length, 2), Classes, 128, 2, 1L << 24, default);
        using var tensorizer = new ImageTensorizer(ImagePreprocessing.TorchImageNet, 128);
        var source = new ImageBatchSource(images, tensorizer, null) { TrainingSize = 64 };
        using var scope = NewDisposeScope();
        int[] indices = [0, 1, 2];

        var small = source.Inputs(indices, training: true, new Random(1));
        var scoring = source.Inputs(indices, training: false, new Random(1));
        var expected = nn.functional.avg_pool2d(scoring, 2);

        Assert.Equal([3L, 3, 64, 64], small.shape);
        Assert.Equal([3L, 3, 128, 128], scoring.shape);
        Assert.True((small - expected).abs().max().item<float>() < 1e-4);
    }

    [Fact]
    public void Given_progressive_resizing_When_the_loop_trains_on_images_Then_each_epoch_trains_at_its_scheduled_size_and_validation_at_full_size()
    {
        TorchRuntime.EnsureInitialized();
        var items = OnnxExportTests.Images(Classes.Length, 4);
        var images = FineTuneImages.Load(items, Classes, 128, 2, 1L << 24, default);
        using var tensorizer = new ImageTensorizer(ImagePreprocessing.TorchImageNet, 128);
        var train = new Recording(new ImageBatchSource(images, tensorizer, AugmentationOptions.Default));
        var validation = new Recording(new ImageBatchSource(images, tensorizer, null));
        var resizing = new ProgressiveResizingCallback(new ProgressiveResizingOptions(), (ImageBatchSource)train.Inner);
        using var model = HeadNetwork.Build(CustomHeadOptions.GlobalAveragePoolDense(), [3, 128, 128], Classes.Length, seed: 1);

        TorchTrainer.Train(model, train, validation, Classes, new TrainingOptions { Epochs = 4, BatchSize = 6, EarlyStopping = null, Callbacks = [resizing] }, seed: 2);

        Assert.Equal([64, 128, 128, 128], resizing.Sizes);
        Assert.Equal([64L, 128, 128, 128], train.Sides.Chunk(2).Select(epoch => epoch.Distinct().Single()));
        Assert.All(validation.Sides, side => Assert.Equal(128L, side));
        Assert.Equal(128, ((ImageBatchSource)train.Inner).TrainingSize);
    }

    [Fact]
    public async Task Given_progressive_resizing_When_a_drawn_set_is_fine_tuned_through_the_API_Then_it_trains_through_the_whole_network_and_the_classifier_runs_at_full_size()
    {
        var drawn = OnnxExportTests.Drawn;
        var items = drawn.Take(drawn.Classes.Take(3), perClass: 6);
        var dir = TestImages.NewTempDir("progressive");
        var options = new FineTuneOptions { UnfreezeLastBlocks = 1, InputSize = 96, ProgressiveResizing = new ProgressiveResizingOptions(), Threads = 2 };

        using var tuned = await ImageClassification.FromFolder(drawn.Root).WithFeatureCache(dir)
            .WithFineTuning(CustomHeadOptions.GlobalAveragePoolDense(), new TrainingOptions { Epochs = 4, BatchSize = 8, Seed = 3, EarlyStopping = null, Mixing = MixingOptions.CutMix() }, options)
            .TrainAsync(items);

        Assert.Equal(4, tuned.Training!.History.Count);
        Assert.Equal(96, tuned.Backbone.InputWidth);
        Assert.Contains("progressive resizing", tuned.HeadDescription, StringComparison.Ordinal);
        var result = await tuned.EvaluateAsync(items);
        Assert.Equal(items.Length, result.Predictions.Count);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void Given_bad_progressive_resizing_options_When_validated_Then_every_problem_is_listed()
    {
        var options = new FineTuneOptions { ProgressiveResizing = new ProgressiveResizingOptions { StartScale = 0, GrowFraction = 1.5 } };

        var e = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains("ProgressiveResizing: StartScale must be above 0 and at most 1 (was 0).", e.Message, StringComparison.Ordinal);
        Assert.Contains("ProgressiveResizing: GrowFraction must be from 0 to 1 (was 1.5).", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A batch source that records the side of every batch it hands out.</summary>
    private sealed class Recording(IBatchSource inner) : IBatchSource
    {
        public IBatchSource Inner => inner;

        public List<long> Sides { get; } = [];

        public int Count => inner.Count;

        public IReadOnlyList<int> Labels => inner.Labels;

        public Tensor Inputs(IReadOnlyList<int> indices, bool training, Random random)
        {
            var batch = inner.Inputs(indices, training, random);
            Sides.Add(batch.shape[2]);
            return batch;
        }
    }
}
