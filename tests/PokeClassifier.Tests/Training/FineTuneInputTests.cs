using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Features;
using PokeClassifier.Training.FineTuning;
using PokeClassifier.Training;
using static TorchSharp.torch;

namespace PokeClassifier.Tests.Training;

public sealed class FineTuneInputTests
{
    private static readonly string[] Classes = [.. OnnxExportTests.Drawn.Classes.Take(3)];

    private static FineTuneImages Images(int size, int perClass = 3) =>
        FineTuneImages.Load(OnnxExportTests.Images(Classes.Length, perClass), Classes, size, 2, 1L << 24, default);

    private static float[] Values(Tensor t) => t.contiguous().data<float>().ToArray();

    [Fact]
    public void Given_no_augmentation_When_a_batch_is_made_Then_it_is_the_featurizers_preprocessing_of_ResNet18()
    {
        TorchRuntime.EnsureInitialized();
        var spec = BackboneSpec.ResNet18;
        var images = Images(224);
        var preprocessor = new Preprocessor(spec.Preprocessing, 224, 224);
        using var tensorizer = new ImageTensorizer(spec.Preprocessing, 224);
        using var scope = NewDisposeScope();

        var batch = Values(tensorizer.Batch(images, [0, 4], null, new Random(1)));

        var expected = new float[2 * preprocessor.TensorLength];
        foreach (var (item, k) in new[] { (images.Items[0], 0), (images.Items[4], 1) })
        {
            var rgba = PokeClassifier.Data.ImageDecoder.DecodeRgba(File.ReadAllBytes(item.Path), item.Path, 224, 224);
            preprocessor.Fill(rgba, expected.AsSpan(k * preprocessor.TensorLength, preprocessor.TensorLength));
        }

        Assert.True(expected.Zip(batch, (e, a) => Math.Abs(e - a)).Max() < 1e-4);
    }

    [Fact]
    public void Given_a_seed_When_augmented_batches_are_drawn_Then_the_same_seed_gives_the_same_images_and_another_does_not()
    {
        TorchRuntime.EnsureInitialized();
        var images = Images(64);
        using var tensorizer = new ImageTensorizer(ImagePreprocessing.TorchImageNet, 64);
        using var scope = NewDisposeScope();
        int[] indices = [0, 1, 2, 3, 4, 5];

        var first = Values(tensorizer.Batch(images, indices, AugmentationOptions.Default, new Random(42)));
        var again = Values(tensorizer.Batch(images, indices, AugmentationOptions.Default, new Random(42)));
        var other = Values(tensorizer.Batch(images, indices, AugmentationOptions.Default, new Random(43)));
        var plain = Values(tensorizer.Batch(images, indices, null, new Random(42)));

        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
        Assert.NotEqual(first, plain);
    }

    [Fact]
    public void Given_only_a_flip_When_an_image_is_flipped_Then_it_is_the_mirror_image()
    {
        TorchRuntime.EnsureInitialized();
        var images = Images(32, perClass: 1);
        using var tensorizer = new ImageTensorizer(ImagePreprocessing.TorchImageNet, 32);
        var flipOnly = new AugmentationOptions { CropScaleMin = 1, Brightness = 0, Contrast = 0, Saturation = 0 };
        using var scope = NewDisposeScope();
        var plain = tensorizer.Batch(images, [0], null, new Random(1));

        // Draw seeds until one flips (half of them do).
        var flipped = Enumerable.Range(0, 20).Select(s => tensorizer.Batch(images, [0], flipOnly, new Random(s)))
            .First(t => !Values(t).SequenceEqual(Values(plain)));

        Assert.Equal(Values(plain.flip(3)), Values(flipped));
    }

    [Fact]
    public void Given_a_disk_cache_When_the_frozen_activations_are_built_twice_Then_the_second_build_computes_none_and_gives_the_same_tensor()
    {
        TorchRuntime.EnsureInitialized();
        var images = Images(64);
        var dir = TestImages.NewTempDir("activations");
        var cache = new FeatureCache(dir);
        using var module = OnnxTorchImporter.Import(BackboneSpec.ResNet18.ModelPath);
        var cut = module.Blocks[^2].Start;
        using var tensorizer = new ImageTensorizer(BackboneSpec.ResNet18.Preprocessing, 64);
        var identity = ActivationBatchSource.Identity("resnet18", 64, module.Frontier(cut).Single());

        using var first = ActivationBatchSource.Build(images, tensorizer, module, cut, null, false, identity, cache, default);
        using var second = ActivationBatchSource.Build(images, tensorizer, module, cut, null, false, identity, cache, default);
        using var scope = NewDisposeScope();

        Assert.Equal(images.Count, first.Computed);
        Assert.Equal(0, second.Computed);
        int[] all = [.. Enumerable.Range(0, images.Count)];
        Assert.Equal(Values(first.Inputs(all, true, new Random(1))), Values(second.Inputs(all, true, new Random(1))));
        Assert.Equal([(long)images.Count, 512, 2, 2], first.Inputs(all, true, new Random(1)).shape);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void Given_the_frozen_part_in_ONNX_Runtime_When_activations_are_built_with_mirror_views_Then_they_match_TorchSharp_and_training_draws_both_views()
    {
        TorchRuntime.EnsureInitialized();
        var images = Images(64);
        var dir = TestImages.NewTempDir("prefix");
        using var frozen = new FrozenPartAt64(dir);
        var (module, cut, tensorizer, identity, prefix) = (frozen.Module, frozen.Cut, frozen.Tensorizer, frozen.Identity, frozen.Prefix);

        using var onnx = ActivationBatchSource.Build(images, tensorizer, module, cut, prefix, true, identity, cache: null, default);
        using var torch = ActivationBatchSource.Build(images, tensorizer, module, cut, null, true, identity, cache: null, default);
        using var plainOnly = ActivationBatchSource.Build(images, tensorizer, module, cut, null, false, identity, cache: null, default);
        using var scope = NewDisposeScope();

        int[] all = [.. Enumerable.Range(0, images.Count)];

        // Activations are held as float16: equal within its precision.
        static bool Close(Tensor a, Tensor b) => (a - b).abs().max().item<float>() <= 2e-3f * Math.Max(1f, b.abs().max().item<float>());
        var scored = onnx.Inputs(all, false, new Random(1));
        Assert.True(Close(scored, plainOnly.Inputs(all, false, new Random(1))));
        Assert.Equal(2 * images.Count, onnx.Computed);
        Assert.True(Close(onnx.Inputs(all, true, new Random(7)), torch.Inputs(all, true, new Random(7))));

        // Training batches draw the mirror view for some images: those rows are the activations of the flipped image.
        using var noGrad = no_grad();
        var flipped = module.RunPrefix(tensorizer.Batch(images, all, all.Select(_ => true).ToArray()), cut)[module.Frontier(cut).Single()];
        var drawn = onnx.Inputs(all, true, new Random(3));
        var mirroredRows = all.Count(i => Close(drawn[i], flipped[i]));
        var plainRows = all.Count(i => Close(drawn[i], scored[i]));
        Assert.True(mirroredRows > 0 && plainRows > 0 && mirroredRows + plainRows == images.Count, $"{mirroredRows} mirrored, {plainRows} plain of {images.Count}");
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void Given_images_loaded_without_holding_their_pixels_When_read_and_run_through_the_frozen_part_Then_they_equal_the_held_images_and_a_changed_file_is_refused()
    {
        TorchRuntime.EnsureInitialized();
        var dir = TestImages.NewTempDir("unheld");
        var items = OnnxExportTests.Images(Classes.Length, 3).Select((item, i) =>
        {
            var path = Path.Combine(dir, $"{i}{Path.GetExtension(item.Path)}");
            File.Copy(item.Path, path);
            return item with { Path = path };
        }).ToArray();
        var held = FineTuneImages.Load(items, Classes, 64, 2, 1L << 24, default);
        var unheld = FineTuneImages.Load(items, Classes, 64, 2, 1L << 24, default, holdPixels: false);
        Assert.True(held.HoldsPixels);
        Assert.False(unheld.HoldsPixels);
        Assert.Equal(held.Hashes, unheld.Hashes);

        var a = new byte[held.PlaneLength];
        var b = new byte[unheld.PlaneLength];
        for (var i = 0; i < held.Count; i++)
        {
            held.CopyPlanes(i, a);
            unheld.CopyPlanes(i, b);
            Assert.Equal(a, b);
        }

        using var frozen = new FrozenPartAt64(dir);
        var (module, cut, tensorizer, identity, prefix) = (frozen.Module, frozen.Cut, frozen.Tensorizer, frozen.Identity, frozen.Prefix);
        using var fromHeld = ActivationBatchSource.Build(held, tensorizer, module, cut, prefix, true, identity, cache: null, default);
        using var fromFiles = ActivationBatchSource.Build(unheld, tensorizer, module, cut, prefix, true, identity, cache: null, default);
        using (NewDisposeScope())
        {
            int[] all = [.. Enumerable.Range(0, held.Count)];
            Assert.Equal(2 * held.Count, fromFiles.Computed);
            Assert.Equal(Values(fromHeld.Inputs(all, true, new Random(5))), Values(fromFiles.Inputs(all, true, new Random(5))));
        }

        File.WriteAllBytes(items[1].Path, File.ReadAllBytes(items[2].Path));
        var error = Assert.Throws<InvalidOperationException>(() => unheld.CopyPlanes(1, b));
        Assert.Contains(items[1].Path, error.Message, StringComparison.Ordinal);
        unheld.ReleasePixels();
        Assert.Throws<InvalidOperationException>(() => unheld.CopyPlanes(0, b));
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>ResNet18 cut before its last two blocks at 64 px: the module, its tensorizer, the activations' identity, and the frozen part in ONNX Runtime.</summary>
    private sealed class FrozenPartAt64 : IDisposable
    {
        public FrozenPartAt64(string directory)
        {
            var graph = PokeClassifier.Backbones.Onnx.BackboneGraph.For(BackboneSpec.ResNet18);
            Module = OnnxTorchImporter.Import(graph.Model, graph.OutputName, graph.Source);
            Cut = Module.Blocks[^2].Start;
            Tensorizer = new ImageTensorizer(BackboneSpec.ResNet18.Preprocessing, 64);
            Identity = ActivationBatchSource.Identity("resnet18", 64, Module.Frontier(Cut).Single());
            var prefix = FrozenPrefix.TryCreate(graph, Module, Cut, BackboneSpec.ResNet18.Preprocessing, 64, directory, sessions: 2);
            Assert.NotNull(prefix);
            Prefix = prefix;
        }

        public OnnxGraphModule Module { get; }

        public int Cut { get; }

        public ImageTensorizer Tensorizer { get; }

        public string Identity { get; }

        public FrozenPrefix Prefix { get; }

        public void Dispose()
        {
            Prefix.Dispose();
            Tensorizer.Dispose();
            Module.Dispose();
        }
    }
}
