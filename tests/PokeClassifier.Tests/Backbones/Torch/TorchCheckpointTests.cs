using PokeClassifier.Backbones.Torch;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace PokeClassifier.Tests.Backbones.Torch;

public sealed class TorchCheckpointTests
{
    public TorchCheckpointTests() => TorchTestNetworks.EnsureRegistered();

    [Theory]
    [InlineData("small_cnn_zip.pth")] // torch.save (zip), read through TorchSharp.PyBridge
    [InlineData("small_cnn_legacy.pth")] // torch.save(..., _use_new_zipfile_serialization=False)
    [InlineData("small_cnn_2017.pth")] // as PyTorch 0.2/0.3 wrote torchvision's DenseNet and VGG checkpoints
    public void Given_a_checkpoint_written_by_PyTorch_When_loaded_Then_the_features_are_PyTorchs(string fixture)
    {
        var architecture = TorchArchitecture.Get(TorchTestNetworks.SmallCnn);

        using var module = TorchCheckpoint.Load(architecture, TorchTestNetworks.Fixture(fixture));

        var expected = TorchTestNetworks.ReadFloats("small_cnn_expected.txt");
        var actual = TorchTestNetworks.Features(architecture, module, 16, 16);
        Assert.True(TorchTestNetworks.RelativeError(expected, actual) < 1e-5, $"{fixture}: relative error {TorchTestNetworks.RelativeError(expected, actual)}");
    }

    [Theory]
    [InlineData(".pth")]
    [InlineData(".safetensors")]
    public void Given_a_ResNet18_saved_through_PyBridge_When_loaded_into_a_new_network_Then_its_features_are_identical(string extension)
    {
        var architecture = TorchArchitecture.Get("resnet18");
        using var original = architecture.Create(1000);
        using (no_grad())
        {
            // Non-trivial batch-norm statistics, so that buffers are checked too.
            foreach (var (key, buffer) in original.named_buffers().Where(b => b.name.EndsWith("running_mean", StringComparison.Ordinal)))
            {
                buffer.uniform_(-0.1, 0.1);
            }
        }

        var path = Path.Combine(TestImages.NewTempDir("resnet"), "resnet18" + extension);
        if (extension == ".pth")
        {
            original.save_py(path);
        }
        else
        {
            original.save_safetensors(path);
        }

        using var loaded = TorchCheckpoint.Load(architecture, path);
        File.Delete(path); // 45 MB

        Assert.Equal(TorchTestNetworks.Features(architecture, original, 64, 64), TorchTestNetworks.Features(architecture, loaded, 64, 64));
    }

    [Fact]
    public void Given_a_checkpoint_with_a_tensor_missing_one_misshapen_and_one_extra_When_loaded_Then_the_error_names_each_with_its_shapes()
    {
        var architecture = TorchArchitecture.Get("resnet18");
        using var original = architecture.Create(1000);
        var state = TorchTestNetworks.CopyStateDict(original);
        state.Remove("layer1.0.conv1.weight", out var removed);
        removed!.Dispose();
        var conv1 = state["conv1.weight"];
        state["conv1.weight"] = conv1.reshape(64, 3, 49);
        state["head.weight"] = zeros(2, 2);
        var path = Path.Combine(TestImages.NewTempDir("resnet"), "damaged.safetensors");
        Safetensors.SaveStateDict(path, state);
        foreach (var t in state.Values.Append(conv1))
        {
            t.Dispose();
        }

        var error = Assert.Throws<ModelLoadException>(() => TorchCheckpoint.Load(architecture, path));
        File.Delete(path);

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("layer1.0.conv1.weight (expected [64,64,3,3])", error.Message, StringComparison.Ordinal);
        Assert.Contains("conv1.weight is [64,3,49] in the checkpoint, the network expects [64,3,7,7]", error.Message, StringComparison.Ordinal);
        Assert.Contains("unexpected 1 tensor(s): head.weight [2,2]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_a_file_that_is_not_a_checkpoint_When_loaded_Then_a_ModelLoadException_names_it()
    {
        var path = Path.Combine(TestImages.NewTempDir("bad"), "weights.pth");
        File.WriteAllText(path, "not weights");

        var error = Assert.Throws<ModelLoadException>(() => TorchCheckpoint.Load(TorchArchitecture.Get("resnet18"), path));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        var missing = Assert.Throws<ModelLoadException>(() => TorchCheckpoint.Load(TorchArchitecture.Get("resnet18"), path + ".missing"));
        Assert.Contains("does not exist", missing.Message, StringComparison.Ordinal);
    }
}
