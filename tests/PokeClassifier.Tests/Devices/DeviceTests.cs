using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Features;
using PokeClassifier.Tests.Backbones.Torch;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace PokeClassifier.Tests.Devices;

/// <summary>CUDA is never available on the test machines: these check the CPU default and the errors that say what is missing.</summary>
public sealed class DeviceTests
{
    [Theory]
    [InlineData("cpu", DeviceKind.Cpu, 0, "cpu")]
    [InlineData("CUDA", DeviceKind.Cuda, 0, "cuda:0")]
    [InlineData(" cuda:3 ", DeviceKind.Cuda, 3, "cuda:3")]
    public void Given_a_device_name_When_parsed_Then_kind_and_index_follow_and_it_prints_back(string text, DeviceKind kind, int id, string printed)
    {
        var device = ComputeDevice.Parse(text);

        Assert.Equal(kind, device.Kind);
        Assert.Equal(id, device.DeviceId);
        Assert.Equal(printed, device.ToString());
        Assert.Equal(device, ComputeDevice.Parse(printed));
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda0")]
    public void Given_a_bad_device_name_When_parsed_Then_the_error_lists_the_valid_forms(string text)
    {
        var e = Assert.Throws<FormatException>(() => ComputeDevice.Parse(text));
        Assert.Contains("cpu, cuda or cuda:N", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_default_options_When_read_Then_featurization_and_training_run_on_the_CPU()
    {
        Assert.Equal(ComputeDevice.Cpu, new FeaturizerOptions().Device);
        Assert.Equal(ComputeDevice.Cpu, new TrainingOptions().Device);
        Assert.Contains("Device", Assert.Throws<ArgumentException>(() => new FeaturizerOptions { Device = null! }.Validate()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_the_CPU_ONNX_Runtime_When_a_featurizer_asks_for_CUDA_Then_the_error_names_the_GPU_package_to_reference()
    {
        var e = Assert.Throws<DeviceUnavailableException>(() => new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { Device = ComputeDevice.Cuda(0), UseCache = false }));

        Assert.Contains("cuda:0", e.Message, StringComparison.Ordinal);
        Assert.Contains("Microsoft.ML.OnnxRuntime.Gpu.Linux", e.Message, StringComparison.Ordinal);
        Assert.Contains("CPUExecutionProvider", e.Message, StringComparison.Ordinal); // what this ONNX Runtime has
    }

    [Fact]
    public void Given_the_GPU_ONNX_Runtime_whose_CUDA_provider_does_not_load_When_explained_Then_the_error_names_the_system_libraries_not_a_package()
    {
        // What the GPU package says on a machine without the CUDA libraries (bench/gpu-check.sh without a GPU): it lists the CUDA
        // provider, but loading it fails.
        var message = OnnxBackbone.CudaUnavailable(ComputeDevice.Cuda(0), ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"], "Failed to load library libonnxruntime_providers_cuda.so");

        Assert.Contains("cuDNN 9", message, StringComparison.Ordinal);
        Assert.Contains("LD_LIBRARY_PATH", message, StringComparison.Ordinal);
        Assert.Contains("libonnxruntime_providers_cuda.so", message, StringComparison.Ordinal);
        Assert.DoesNotContain("must reference", message, StringComparison.Ordinal);
        Assert.Contains("must reference Microsoft.ML.OnnxRuntime.Gpu.Linux", OnnxBackbone.CudaUnavailable(ComputeDevice.Cuda(0), ["CPUExecutionProvider"], "no provider"), StringComparison.Ordinal);
    }

    [Fact]
    public void Given_the_CPU_libtorch_When_TorchSharp_is_asked_for_CUDA_Then_the_error_names_the_CUDA_libtorch_package()
    {
        TorchTestNetworks.EnsureRegistered();
        var spec = new BackboneSpec
        {
            Name = "small",
            Engine = BackboneEngine.TorchSharp,
            Architecture = TorchTestNetworks.SmallCnn,
            ModelPath = TorchTestNetworks.Fixture("small_cnn_zip.pth"),
            InputWidth = 16,
            InputHeight = 16,
            FeatureLength = 16,
            Preprocessing = ImagePreprocessing.TorchImageNet,
        };

        var backbone = Assert.Throws<DeviceUnavailableException>(() => new ImageFeaturizer(spec, new FeaturizerOptions { Device = ComputeDevice.Cuda(1), UseCache = false }));
        var training = Assert.Throws<DeviceUnavailableException>(() => TorchRuntime.Device(new TrainingOptions { Device = ComputeDevice.Cuda() }.Device));

        Assert.Contains("libtorch-cuda-12.8-linux-x64", backbone.Message, StringComparison.Ordinal);
        Assert.Contains("cuda:1", backbone.Message, StringComparison.Ordinal);
        Assert.Contains("torch.cuda.is_available()", training.Message, StringComparison.Ordinal);
        Assert.Equal(CPU, TorchRuntime.Device(ComputeDevice.Cpu));
    }
}
