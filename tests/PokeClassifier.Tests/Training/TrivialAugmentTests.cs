using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.FineTuning;
using PokeClassifier.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PokeClassifier.Tests.Training;

/// <summary>The TrivialAugment policy of fine-tuning's augmentation: its draws, each operation's values, its options and a run with it.</summary>
public sealed class TrivialAugmentTests
{
    private const int S = 32;
    private static readonly string[] Classes = [.. OnnxExportTests.Drawn.Classes.Take(3)];
    private static readonly AugmentationOptions Trivial = AugmentationOptions.Default with { Policy = AugmentationPolicy.TrivialAugment };

    private static FineTuneImages Images(int size, int perClass = 3) =>
        FineTuneImages.Load(OnnxExportTests.Images(Classes.Length, perClass), Classes, size, 2, 1L << 24, default);

    private static float[] Values(Tensor t) => t.contiguous().data<float>().ToArray();

    private static float MaxDifference(Tensor a, Tensor b) => (a - b).abs().max().item<float>();

    /// <summary>A seeded image [3, S, S] of whole values 0..255.</summary>
    private static Tensor Noise(int seed = 5)
    {
        var random = new Random(seed);
        return tensor(Enumerable.Range(0, 3 * S * S).Select(_ => (float)random.Next(256)).ToArray(), [3, S, S]);
    }

    private static ImageTensorizer Tensorizer(int size = S)
    {
        TorchRuntime.EnsureInitialized();
        return new ImageTensorizer(ImagePreprocessing.TorchImageNet, size);
    }

    [Fact]
    public void Given_the_policy_and_a_seed_When_augmented_batches_are_drawn_Then_the_same_seed_gives_the_same_images_and_another_does_not()
    {
        using var tensorizer = Tensorizer(64);
        var images = Images(64);
        using var scope = NewDisposeScope();
        int[] indices = [0, 1, 2, 3, 4, 5, 6, 7, 8];

        var first = Values(tensorizer.Batch(images, indices, Trivial, new Random(42)));
        var again = Values(tensorizer.Batch(images, indices, Trivial, new Random(42)));
        var other = Values(tensorizer.Batch(images, indices, Trivial, new Random(43)));
        var withoutPolicy = Values(tensorizer.Batch(images, indices, AugmentationOptions.Default, new Random(42)));

        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
        Assert.NotEqual(first, withoutPolicy);
    }

    [Fact]
    public void Given_no_policy_When_a_batch_is_drawn_Then_it_and_the_random_numbers_after_it_are_those_of_the_options_before_the_policy()
    {
        using var tensorizer = Tensorizer(64);
        var images = Images(64);
        using var scope = NewDisposeScope();
        int[] indices = [0, 1, 2, 3, 4, 5];
        var (plainRandom, noneRandom, trivialRandom) = (new Random(42), new Random(42), new Random(42));

        var plain = Values(tensorizer.Batch(images, indices, AugmentationOptions.Default, plainRandom));
        var none = Values(tensorizer.Batch(images, indices, AugmentationOptions.Default with { Policy = AugmentationPolicy.None }, noneRandom));
        _ = tensorizer.Batch(images, indices, Trivial, trivialRandom);

        Assert.Equal(plain, none);

        // The policy draws after the crop, flip and jitter (three numbers per image), so the generators part only there.
        var next = plainRandom.Next();
        Assert.Equal(next, noneRandom.Next());
        Assert.NotEqual(next, trivialRandom.Next());
    }

    [Fact]
    public void Given_each_operation_at_its_strongest_and_weakest_When_applied_Then_the_shape_and_the_0_to_255_range_hold_and_it_changes_the_image()
    {
        using var tensorizer = Tensorizer();
        using var scope = NewDisposeScope();
        var x = Noise();

        foreach (var op in Enum.GetValues<TrivialAugmentOp>())
        {
            foreach (var level in new[] { 0, 15, ImageTensorizer.MagnitudeBins - 1 })
            {
                foreach (var sign in new[] { 1, -1 })
                {
                    var y = tensorizer.ApplyOp(x, op, sign * ImageTensorizer.Magnitude(op, level, S));
                    Assert.Equal([3L, S, S], y.shape);
                    Assert.True(y.min().item<float>() >= 0 && y.max().item<float>() <= 255, $"{op} at level {level}");
                }
            }

            // The strongest level changes the image (Identity has no strength; AutoContrast and Equalize leave full-range noise nearly as it is).
            var strongest = tensorizer.ApplyOp(x, op, ImageTensorizer.Magnitude(op, ImageTensorizer.MagnitudeBins - 1, S));
            if (op is not (TrivialAugmentOp.Identity or TrivialAugmentOp.AutoContrast or TrivialAugmentOp.Equalize))
            {
                Assert.True(MaxDifference(strongest, x) > 10, $"{op} at its strongest");
            }
        }
    }

    [Fact]
    public void Given_neutral_magnitudes_When_each_operation_is_applied_Then_the_image_is_unchanged()
    {
        using var tensorizer = Tensorizer();
        using var scope = NewDisposeScope();
        var x = Noise();

        Assert.Equal(Values(x), Values(tensorizer.ApplyOp(x, TrivialAugmentOp.Identity, 0.7)));
        foreach (var op in new[] { TrivialAugmentOp.Rotate, TrivialAugmentOp.ShearX, TrivialAugmentOp.ShearY, TrivialAugmentOp.TranslateX, TrivialAugmentOp.TranslateY })
        {
            Assert.True(MaxDifference(tensorizer.ApplyOp(x, op, 0), x) < 1e-3, op.ToString());
        }

        foreach (var op in new[] { TrivialAugmentOp.Brightness, TrivialAugmentOp.Color, TrivialAugmentOp.Contrast, TrivialAugmentOp.Sharpness })
        {
            Assert.True(MaxDifference(tensorizer.ApplyOp(x, op, 0), x) < 1e-3, $"{op} at factor 1");
        }

        Assert.Equal(Values(x), Values(tensorizer.ApplyOp(x, TrivialAugmentOp.Solarize, 255)));
        Assert.Equal(Values(x), Values(tensorizer.ApplyOp(x, TrivialAugmentOp.Solarize, 300)));
        Assert.Equal(Values(x), Values(tensorizer.ApplyOp(x, TrivialAugmentOp.Posterize, 8)));
        Assert.Equal(Values((x * 0.5f) + 0.25f), Values(tensorizer.ApplyOp((x * 0.5f) + 0.25f, TrivialAugmentOp.Posterize, 8)));
    }

    [Fact]
    public void Given_known_images_When_the_geometric_operations_are_applied_Then_they_rotate_shift_and_shear_with_a_white_fill()
    {
        using var tensorizer = Tensorizer();
        using var scope = NewDisposeScope();
        var x = Noise();

        // Rotate 90 is counter-clockwise, as torchvision and torch.rot90 over (height, width).
        Assert.True(MaxDifference(tensorizer.ApplyOp(x, TrivialAugmentOp.Rotate, 90), x.rot90(1, (1, 2))) < 1e-2);

        // Translating by 3 px moves the image right (down) and fills the uncovered columns (rows) with white.
        var right = tensorizer.ApplyOp(x, TrivialAugmentOp.TranslateX, 3);
        Assert.True(MaxDifference(right[.., .., 3..], x[.., .., ..^3]) < 1e-3);
        Assert.Equal(255f, right[.., .., ..3].min().item<float>(), 3);
        var down = tensorizer.ApplyOp(x, TrivialAugmentOp.TranslateY, -3);
        Assert.True(MaxDifference(down[.., ..^3, ..], x[.., 3.., ..]) < 1e-3);
        Assert.Equal(255f, down[.., ^3.., ..].min().item<float>(), 3);

        // Shear X by 1 about the top-left corner: row y comes from x + y (+ a half-pixel of the corner's convention), white beyond the right edge.
        var sheared = tensorizer.ApplyOp(x, TrivialAugmentOp.ShearX, 1);
        Assert.True(MaxDifference(sheared[.., 0, ..^1], x[.., 0, 1..] * 0.5f + x[.., 0, ..^1] * 0.5f) < 1e-2);
        Assert.Equal(255f, sheared[.., ^1, 1..].min().item<float>(), 3);
    }

    [Fact]
    public void Given_known_images_When_the_colour_operations_are_applied_Then_their_values_are_torchvisions()
    {
        using var tensorizer = Tensorizer();
        using var scope = NewDisposeScope();
        var x = Noise();

        Assert.Equal(Values((x * 1.5f).clamp(0, 255)), Values(tensorizer.ApplyOp(x, TrivialAugmentOp.Brightness, 0.5)));
        Assert.Equal(Values(x.mul(0.5f)), Values(tensorizer.ApplyOp(x, TrivialAugmentOp.Brightness, -0.5)));

        // Colour at factor 0 is the grey image in every plane; contrast at factor 0 is the mean grey everywhere.
        var grey = tensorizer.ApplyOp(x, TrivialAugmentOp.Color, -1);
        Assert.True(MaxDifference(grey[0], grey[1]) < 1e-3 && MaxDifference(grey[1], grey[2]) < 1e-3);
        var flat = tensorizer.ApplyOp(x, TrivialAugmentOp.Contrast, -1);
        Assert.True(flat.max().item<float>() - flat.min().item<float>() < 1e-3);

        // Sharpness at factor 0 is the smoothed image inside; the border stays.
        var smooth = tensorizer.ApplyOp(x, TrivialAugmentOp.Sharpness, -1);
        var expected = (x[0, ..3, ..3].sum().item<float>() + (4 * x[0, 1, 1].item<float>())) / 13;
        Assert.Equal(expected, smooth[0, 1, 1].item<float>(), 3);
        Assert.Equal(Values(x[.., 0, ..]), Values(smooth[.., 0, ..]));

        // Solarize inverts the values above the threshold; posterize 2 bits keeps multiples of 64.
        var solarized = tensorizer.ApplyOp(x, TrivialAugmentOp.Solarize, 128);
        Assert.Equal(Values(where(x > 128, 255 - x, x)), Values(solarized));
        var posterized = tensorizer.ApplyOp(x, TrivialAugmentOp.Posterize, 2);
        Assert.Equal(Values((x / 64).floor() * 64), Values(posterized));
        Assert.Equal([0f, 64f, 128f, 192f], posterized.unique().Item1.data<float>().ToArray());
    }

    [Fact]
    public void Given_a_low_contrast_image_When_auto_contrast_and_equalize_are_applied_Then_each_plane_spans_0_to_255()
    {
        using var tensorizer = Tensorizer();
        using var scope = NewDisposeScope();

        // 16 levels, 100 to 115 (the red plane), 64 pixels each: a narrow, even histogram.
        var levels = arange(S * S, ScalarType.Float32).div(64, RoundingMode.floor).reshape(1, S, S);
        var x = cat([levels + 100, levels + 50, (levels * 2) + 10], 0);

        var stretched = tensorizer.ApplyOp(x, TrivialAugmentOp.AutoContrast, 0);
        Assert.Equal(Values((levels * 17).expand(3, S, S)), Values(stretched), new FloatTolerance(1e-3f));

        // torchvision's equalize: step = (1024 - 64) / 255 = 3; level k maps to floor((64 k + 1) / 3), at most 255.
        var equalized = tensorizer.ApplyOp(x, TrivialAugmentOp.Equalize, 0);
        var want = Enumerable.Range(0, 16).Select(k => (float)Math.Min(255, ((64 * k) + 1) / 3)).ToArray();
        Assert.Equal(want, equalized[0].reshape(16, 64)[.., 0].data<float>().ToArray());
        Assert.Equal(Values(equalized[0]), Values(equalized[1]));
        Assert.Equal((0f, 255f), (equalized.min().item<float>(), equalized.max().item<float>()));

        // A flat plane stays as it is for both.
        var grey = full(3, S, S, 77f);
        Assert.Equal(Values(grey), Values(tensorizer.ApplyOp(grey, TrivialAugmentOp.AutoContrast, 0)));
        Assert.Equal(Values(grey), Values(tensorizer.ApplyOp(grey, TrivialAugmentOp.Equalize, 0)));
    }

    [Fact]
    public void Given_torchvisions_levels_When_magnitudes_are_read_Then_they_span_its_ranges()
    {
        Assert.Equal(0.99, ImageTensorizer.Magnitude(TrivialAugmentOp.ShearX, 30, 224), 6);
        Assert.Equal(32, ImageTensorizer.Magnitude(TrivialAugmentOp.TranslateY, 30, 224), 6);
        Assert.Equal(16, ImageTensorizer.Magnitude(TrivialAugmentOp.TranslateX, 30, 112), 6);
        Assert.Equal(135, ImageTensorizer.Magnitude(TrivialAugmentOp.Rotate, 30, 224), 6);
        Assert.Equal(4.5, ImageTensorizer.Magnitude(TrivialAugmentOp.Rotate, 1, 224), 6);
        Assert.Equal([8.0, 8, 8, 7, 2], new[] { 0, 1, 2, 3, 30 }.Select(l => ImageTensorizer.Magnitude(TrivialAugmentOp.Posterize, l, 224)));
        Assert.Equal((255.0, 0.0), (ImageTensorizer.Magnitude(TrivialAugmentOp.Solarize, 0, 224), ImageTensorizer.Magnitude(TrivialAugmentOp.Solarize, 30, 224)));

        // Draws cover every operation and both signs.
        var random = new Random(1);
        var draws = Enumerable.Range(0, 2000).Select(_ => ImageTensorizer.DrawOp(random, 224)).ToArray();
        Assert.Equal(Enum.GetValues<TrivialAugmentOp>().Length, draws.Select(d => d.Op).Distinct().Count());
        Assert.Contains(draws, d => d.Op == TrivialAugmentOp.Rotate && d.Magnitude < 0);
        Assert.All(draws.Where(d => d.Op == TrivialAugmentOp.Solarize), d => Assert.InRange(d.Magnitude, 0, 255));
    }

    [Fact]
    public void Given_policy_options_When_validated_and_applied_as_knobs_Then_an_undefined_policy_is_named_and_the_policy_turns_augmentation_on()
    {
        var error = Assert.Throws<ArgumentException>(() => new AugmentationOptions { Policy = (AugmentationPolicy)7, Brightness = 2 }.Validate());
        Assert.Contains("Policy must be None or TrivialAugment (was 7)", error.Message, StringComparison.Ordinal);
        Assert.Contains("Brightness", error.Message, StringComparison.Ordinal);
        Trivial.Validate();
        Assert.True(new AugmentationOptions { CropScaleMin = 1, HorizontalFlip = false, Brightness = 0, Contrast = 0, Saturation = 0, Policy = AugmentationPolicy.TrivialAugment }.IsEnabled);
        Assert.False(new AugmentationOptions { CropScaleMin = 1, HorizontalFlip = false, Brightness = 0, Contrast = 0, Saturation = 0 }.IsEnabled);

        var knobs = new TrainingOverrides { AugmentPolicy = AugmentationPolicy.TrivialAugment };
        var fromNone = (FineTuneHeadConfiguration)HeadConfiguration.FineTune().WithOverrides(knobs);
        var fromRecommended = (FineTuneHeadConfiguration)HeadConfiguration.FineTune(fineTune: FineTuneOptions.Recommended).WithOverrides(knobs with { Augment = true });
        Assert.Equal(Trivial, fromNone.FineTuning.Augmentation);
        Assert.Equal(FineTuneOptions.Recommended.Augmentation! with { Policy = AugmentationPolicy.TrivialAugment }, fromRecommended.FineTuning.Augmentation);
        Assert.Contains("augmented (TrivialAugment)", fromNone.FineTuning.ToString(), StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => HeadConfiguration.FineTune().WithOverrides(knobs with { Augment = false }));
        var onFeatures = Assert.Throws<ArgumentException>(() => HeadConfiguration.Custom().WithOverrides(knobs));
        Assert.Contains("--augment", onFeatures.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_the_policy_When_a_whole_TorchSharp_ResNet18_is_fine_tuned_on_drawn_images_Then_it_trains_and_classifies()
    {
        TorchRuntime.EnsureInitialized();
        var dir = TestImages.NewTempDir("finetune-trivial");
        var weights = Path.Combine(dir, "resnet18-random.safetensors");
        using (var module = torchvision.models.resnet18(num_classes: 10))
        {
            TorchSharp.PyBridge.PyBridgeModuleExtensions.save_safetensors(module, weights);
        }

        var spec = BackboneSpec.ResNet18Torch(weights, inputSize: 64) with { WeightSources = [] };
        var drawn = OnnxExportTests.Drawn;
        var items = drawn.Take(drawn.Classes.Take(3), perClass: 6);
        var options = new FineTuneOptions { UnfreezeLastBlocks = FineTuneOptions.AllBlocks, Augmentation = Trivial, Threads = 2 };
        using var tuned = await ImageClassification.FromFolder(drawn.Root).WithBackbone(spec).WithFeatureCache(dir)
            .WithFineTuning(CustomHeadOptions.Mlp(0.2, 32), new TrainingOptions { Epochs = 2, BatchSize = 8, Seed = 3, EarlyStopping = null }, options)
            .TrainAsync(items);

        Assert.Equal(2, tuned.Training!.History.Count);
        Assert.All(tuned.Training.History, e => Assert.True(double.IsFinite(e.TrainLoss), tuned.Training.ToTable()));
        var prediction = tuned.Predict(items[0].Path);
        Assert.Contains(prediction.Label, drawn.Classes.Take(3));
        Directory.Delete(dir, recursive: true);
    }

    private sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(float obj) => 0;
    }
}
