using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Training;

namespace PokeClassifier.Tests;

/// <summary>
/// The core finds the PokeClassifier.TorchSharp package through its registries. Without the package (a process with the core
/// alone) the same lookups fail with one line naming it: tests/package/run.sh, check D, runs that from a fresh application.
/// </summary>
public sealed class TorchSharpPackageTests
{
    [Fact]
    public void Given_the_TorchSharp_package_is_referenced_When_the_core_looks_it_up_Then_its_services_and_head_kind_are_registered()
    {
        Assert.True(TorchSharpPackage.IsAvailable);
        Assert.NotNull(TorchSharpPackage.Require("A test"));
        Assert.NotNull(HeadFormats.Find(TorchSharpPackage.HeadKind));
        Assert.Contains(TorchSharpPackage.HeadKind, HeadFormats.Kinds);
        Assert.Contains(MLNetHead.TrainingPath, HeadFormats.Kinds);
    }

    [Fact]
    public void Given_a_TorchSharp_head_configuration_When_its_trainer_is_created_Then_the_package_provides_it()
    {
        Assert.Equal("TorchHeadTrainer", HeadConfiguration.Custom().CreateTrainer().GetType().Name);
        Assert.Equal("FineTuneTrainer", HeadConfiguration.FineTune().CreateTrainer().GetType().Name);
        Assert.Equal("MLNetHeadTrainer", HeadConfiguration.MLNet().CreateTrainer().GetType().Name);
    }

    [Fact]
    public void Given_the_missing_package_message_Then_it_is_one_line_naming_the_package_and_a_libtorch()
    {
        var message = TorchSharpPackage.Missing("Loading 'model.zip'");
        Assert.DoesNotContain('\n', message);
        Assert.StartsWith("Loading 'model.zip' needs the PokeClassifier.TorchSharp package", message, StringComparison.Ordinal);
        Assert.Contains("TorchSharp-cpu", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_the_pretrained_catalog_Then_it_lives_in_the_core_and_every_TorchSharp_architecture_with_weights_uses_its_entry()
    {
        Assert.Equal(["densenet201", "densenet201-keras", "resnet18", "resnet50", "vgg16", "vgg16-keras"], BackboneSpec.PretrainedNames);
        foreach (var name in BackboneSpec.PretrainedNames)
        {
            Assert.Same(PretrainedBackbones.Get(name), TorchArchitecture.Get(name).Pretrained);
        }

        Assert.Equal("vgg16-keras", BackboneSpec.Pretrained("VGG16-Keras").Architecture);
    }
}
