using Microsoft.ML.OnnxRuntime;
using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Onnx;
using PokeClassifier.Backbones.Torch;
using Xunit.Abstractions;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PokeClassifier.Tests.Backbones.Torch;

/// <summary>
/// The catalog's pretrained backbones end to end, on weights the tests write: downloaded from loopback HTTP (torchvision's file name
/// and hash prefix), converted in-process to ONNX and cached, run by ONNX Runtime, and compared with TorchSharp's forward pass.
/// </summary>
public sealed class PretrainedBackboneTests(ITestOutputHelper output) : IDisposable
{
    private readonly LoopbackHttpServer _server = new();
    private readonly string _root = TestImages.NewTempDir("pretrained");

    public void Dispose()
    {
        _server.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private WeightStore Store() => new(new WeightStoreOptions { CacheDirectory = Path.Combine(_root, "weights"), RetryDelay = TimeSpan.FromMilliseconds(10) });

    [Theory]
    [InlineData("resnet18", 64)]
    [InlineData("resnet50", 64)]
    [InlineData("densenet201", 64)]
    [InlineData("vgg16", 32)]
    public async Task Given_a_torchvision_checkpoint_on_the_server_When_the_pretrained_backbone_is_resolved_Then_it_is_converted_once_and_ONNX_Runtime_matches_TorchSharp(string architecture, int size)
    {
        using var module = TestCheckpoints.RandomModule(architecture, seed: 11);
        var pth = Path.Combine(_root, "upload.pth");
        TestCheckpoints.WritePth(module, pth);
        var sha = TestCheckpoints.Sha256(pth);
        var file = $"{architecture}-{sha[..8]}.pth"; // as torchvision names them: the hash prefix checked like torch.hub
        _server.ServeFile("/" + file, await File.ReadAllBytesAsync(pth));
        File.Delete(pth);
        var spec = TestCheckpoints.Served(BackboneSpec.Pretrained(architecture, size), file, _server.Url("/" + file), sha[..8]);
        var store = Store();

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var resolved = await store.ResolveAsync(spec);
        output.WriteLine($"{architecture}: download + verify + convert {watch.Elapsed.TotalSeconds:F1} s");
        var again = await store.ResolveAsync(spec);

        Assert.Equal(BackboneEngine.OnnxRuntime, resolved.Engine);
        Assert.Equal(Path.Combine(store.CacheDirectory, "converted", $"{architecture}-{size}x{size}-{sha}.onnx"), resolved.ModelPath);
        Assert.Equal(resolved.ModelPath, again.ModelPath);
        Assert.Equal(1, _server.Hits("/" + file));
        Assert.Empty(Directory.GetFiles(store.CacheDirectory, "*.partial", SearchOption.AllDirectories));

        var input = TorchTestNetworks.InputValues(size, size);
        var expected = TorchTestNetworks.Features(TorchArchitecture.Get(architecture), module, size, size);
        using var session = new InferenceSession(resolved.ModelPath);
        var actual = OnnxTorchImporterTests.RunOrt(session, resolved.InputName, resolved.OutputName, input, [1, 3, size, size]);
        var error = TorchTestNetworks.RelativeError(expected, actual);
        output.WriteLine($"{architecture}: ONNX Runtime vs TorchSharp max |diff| / max |feature| = {error:E2}");
        Assert.Equal(resolved.FeatureLength, actual.Length);
        Assert.True(error < 1e-4, $"relative error {error}");

        // Fine-tuning imports the same graph into TorchSharp: it starts from the same weights.
        using var imported = OnnxTorchImporter.Import(BackboneGraph.For(resolved).Model);
        Assert.True(TorchTestNetworks.RelativeError(expected, OnnxTorchImporterTests.RunTorch(imported, input, [1, 3, size, size])) < 1e-4);
    }

    [Theory]
    [InlineData("densenet201-keras", "densenet201", 64)]
    [InlineData("vgg16-keras", "vgg16", 64)]
    public async Task Given_Keras_weights_in_keras_applications_layout_When_resolved_Then_they_load_into_the_torchvision_layout_module_and_the_converted_graph_matches_it(string keras, string torchvision, int size)
    {
        using var module = TestCheckpoints.RandomModule(keras, seed: 5);
        var h5 = Path.Combine(_root, $"{keras}_notop.h5");
        TestCheckpoints.WriteKerasH5(keras, module, h5);
        var spec = TestCheckpoints.Served(BackboneSpec.Pretrained(keras, size), Path.GetFileName(h5), url: null, md5: TestCheckpoints.Md5(h5));

        // The reader puts every Keras weight where the torchvision-layout module has it.
        using (var loaded = TorchCheckpoint.Load(TorchArchitecture.Get(keras), h5))
        {
            var expectedState = module.state_dict();
            foreach (var (key, value) in loaded.state_dict().Where(kv => !kv.Key.StartsWith("classifier.", StringComparison.Ordinal) && !kv.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal)))
            {
                Assert.True(value.eq(expectedState[key]).all().item<bool>(), $"{key} differs");
            }
        }

        var resolved = await Store().ResolveAsync(spec, weightsPath: h5);

        var input = TorchTestNetworks.InputValues(size, size);
        var expected = TorchTestNetworks.Features(TorchArchitecture.Get(keras), module, size, size);
        using var session = new InferenceSession(resolved.ModelPath);
        var actual = OnnxTorchImporterTests.RunOrt(session, resolved.InputName, resolved.OutputName, input, [1, 3, size, size]);
        var error = TorchTestNetworks.RelativeError(expected, actual);
        output.WriteLine($"{keras}: ONNX Runtime vs TorchSharp (torchvision layout, Keras epsilon and padding) = {error:E2}");
        Assert.True(error < 1e-4, $"relative error {error}");
        using var imported = OnnxTorchImporter.Import(BackboneGraph.For(resolved).Model);
        Assert.True(TorchTestNetworks.RelativeError(expected, OnnxTorchImporterTests.RunTorch(imported, input, [1, 3, size, size])) < 1e-4);

        // Keras' preprocessing: caffe for VGG16, torch for DenseNet.
        Assert.Equal(keras == "vgg16-keras" ? ImagePreprocessing.CaffeImageNet : ImagePreprocessing.TorchImageNet, resolved.Preprocessing);
        Assert.Equal(BackboneSpec.Pretrained(torchvision, size).FeatureShape, resolved.FeatureShape);
    }

    [Fact]
    public void Given_the_Keras_catalog_entries_Then_they_carry_Keras_urls_and_the_md5_Keras_publishes()
    {
        var densenet = BackboneSpec.Pretrained("densenet201-keras").WeightSources[0];
        var vgg = BackboneSpec.Pretrained("vgg16-keras").WeightSources[0];

        Assert.Equal(new Uri("https://storage.googleapis.com/tensorflow/keras-applications/densenet/densenet201_weights_tf_dim_ordering_tf_kernels_notop.h5"), densenet.Url);
        Assert.Equal("c13680b51ded0fb44dff2d8f86ac8bb1", densenet.Md5);
        Assert.Equal(new Uri("https://storage.googleapis.com/tensorflow/keras-applications/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"), vgg.Url);
        Assert.Equal("6d6bbae143d832006294945121d1f1fc", vgg.Md5);
        Assert.Equal(WeightFormat.KerasH5, vgg.Format);
        Assert.Equal(new Uri("https://download.pytorch.org/models/resnet50-0676ba61.pth"), BackboneSpec.Pretrained("resnet50").WeightSources[0].Url);
        Assert.Equal("0676ba61", BackboneSpec.Pretrained("resnet50").WeightSources[0].Sha256);
        Assert.Equal(["densenet201", "densenet201-keras", "resnet18", "resnet50", "vgg16", "vgg16-keras"], BackboneSpec.PretrainedNames);
    }

    [Fact]
    public void Given_an_unknown_architecture_name_Then_the_catalog_the_engine_and_the_ONNX_writer_refuse_it_instead_of_writing_a_DenseNet()
    {
        TorchTestNetworks.EnsureRegistered();
        using var module = TorchArchitecture.Get("resnet18").Create(10);

        var catalog = Assert.Throws<ArgumentException>(() => BackboneSpec.Pretrained("resnet101"));
        var writer = Assert.Throws<ModelLoadException>(() => TorchGraphExporter.Export("resnet101", module, 32, 32));
        var engine = Assert.Throws<ModelLoadException>(() => TorchArchitecture.Get("resnet101"));
        var unwritable = Assert.Throws<NotSupportedException>(() => TorchGraphExporter.Export(TorchTestNetworks.SmallCnn, module, 32, 32));

        Assert.Contains("densenet201, densenet201-keras, resnet18, resnet50, vgg16, vgg16-keras", catalog.Message, StringComparison.Ordinal);
        Assert.Contains("resnet101", writer.Message, StringComparison.Ordinal);
        Assert.Equal(writer.Message, engine.Message);
        Assert.Contains("cannot be written as ONNX", unwritable.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(TorchTestNetworks.SmallCnn, TorchGraphExporter.Architectures);
    }

    [Fact]
    public async Task Given_a_spec_resolved_before_When_resolved_again_Then_its_converted_graph_is_taken_as_it_is()
    {
        using var module = TestCheckpoints.RandomModule("resnet18", seed: 3);
        var pth = Path.Combine(_root, "resnet18-local.pth");
        TestCheckpoints.WritePth(module, pth);
        var spec = TestCheckpoints.Served(BackboneSpec.Pretrained("resnet18", 32), "resnet18-local.pth", url: null, TestCheckpoints.Sha256(pth)[..8]);
        var store = Store();

        var resolved = await store.ResolveAsync(spec, weightsPath: pth);
        var again = await store.ResolveAsync(resolved);

        Assert.Equal(resolved.ModelPath, again.ModelPath);
        Assert.Equal(resolved.ModelPath, store.ResolveCached(resolved).ModelPath);
    }
}
