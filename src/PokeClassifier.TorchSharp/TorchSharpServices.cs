using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Data;
using PokeClassifier.Features;
using PokeClassifier.Training.Budget;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.FineTuning;
using PokeClassifier.Training;

namespace PokeClassifier;

/// <summary>
/// This package's side of <see cref="TorchSharpPackage"/>: registers, when the assembly is loaded, the TorchSharp head kind in
/// <see cref="HeadFormats"/> and the services the library reaches without referencing TorchSharp (the TorchSharp heads' and
/// fine-tuning's trainers, TorchSharp backbones, the conversion of torchvision and Keras checkpoints, the time-budget planner).
/// </summary>
internal sealed class TorchSharpServices : ITorchSharpServices
{
    /// <summary>Registers the package with the library: on the first use of any of its types, or when the library loads it by name.</summary>
    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255:The 'ModuleInitializer' attribute should not be used in libraries", Justification = "The library finds this package through it (it has no reference to it); registering is cheap and touches no TorchSharp native code.")]
    internal static void Register()
    {
        HeadFormats.Register(HeadFormat.Of<TorchHead>(
            TorchHead.TrainingPath, TorchHead.Load, TorchOnnxHeadWriter.Torch,
            "The file was saved before backbones were stored in it: pass the backbone to TrainedClassifier.Load (--backbone on the command line)."));
        TorchSharpPackage.Register(new TorchSharpServices());
    }

    /// <inheritdoc />
    public HeadTrainer CreateTrainer(HeadConfiguration configuration)
    {
        HeadTrainer trainer = configuration switch
        {
            CustomHeadConfiguration custom => new TorchHeadTrainer(custom.Head, custom.Training),
            FineTuneHeadConfiguration fineTune => new FineTuneTrainer(fineTune),
            _ => throw new ArgumentException($"{configuration.GetType().Name} is not a TorchSharp head configuration.", nameof(configuration)),
        };

        // A device that cannot be had fails here, before any image is featurized, not after.
        if (trainer.Loop is { Device.Kind: not DeviceKind.Cpu } loop)
        {
            _ = TorchRuntime.Device(loop.Device);
        }

        return trainer;
    }

    /// <inheritdoc />
    public IBackboneEngine CreateBackbone(BackboneSpec spec, int intraOpThreads, ComputeDevice? device) => new TorchBackbone(spec, intraOpThreads, device);

    /// <inheritdoc />
    public byte[] ExportBackboneGraph(BackboneSpec spec) => TorchGraphExporter.Export(spec);

    /// <inheritdoc />
    public Task<BudgetPlan> PlanBudgetAsync(
        BackboneSpec backbone, int trainImages, int validationImages, int testImages, IReadOnlyList<DatasetItem> sample, FeaturizerOptions featurizer, TrainingBudget budget,
        TimeSpan spent, int threads, CancellationToken cancellationToken) =>
        BudgetPlanner.PlanAsync(backbone, trainImages, validationImages, testImages, sample, featurizer, budget, spent, threads, cancellationToken);
}
