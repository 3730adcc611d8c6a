using System.Reflection;
using System.Runtime.CompilerServices;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Features;
using PokeClassifier.Training.Budget;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.FineTuning;
using PokeClassifier.Training;

namespace PokeClassifier;

/// <summary>
/// What the library asks of the <c>PokeClassifier.TorchSharp</c> package, which implements it: the library itself references no
/// TorchSharp (so no libtorch comes with it), and reaches the TorchSharp heads, fine-tuning, the budget planner, TorchSharp backbones
/// and the conversion of torchvision and Keras checkpoints through this. Head kinds register in <see cref="HeadFormats"/>.
/// </summary>
internal interface ITorchSharpServices
{
    /// <summary>The trainer of a TorchSharp head configuration (<see cref="CustomHeadConfiguration"/>, <see cref="FineTuneHeadConfiguration"/>).</summary>
    HeadTrainer CreateTrainer(HeadConfiguration configuration);

    /// <summary>The engine of a <see cref="BackboneEngine.TorchSharp"/> backbone.</summary>
    IBackboneEngine CreateBackbone(BackboneSpec spec, int intraOpThreads, ComputeDevice? device);

    /// <summary>The backbone's feature part as an ONNX graph (input <c>input</c>, output <c>features</c>), from its architecture and checkpoint.</summary>
    byte[] ExportBackboneGraph(BackboneSpec spec);

    /// <summary>The recipe that fits a time budget on this machine (<see cref="ClassificationBuilder.WithTimeBudget"/>).</summary>
    Task<BudgetPlan> PlanBudgetAsync(
        BackboneSpec backbone, int trainImages, int validationImages, int testImages, IReadOnlyList<DatasetItem> sample, FeaturizerOptions featurizer, TrainingBudget budget,
        TimeSpan spent, int threads, CancellationToken cancellationToken);
}

/// <summary>
/// Finds the <c>PokeClassifier.TorchSharp</c> assembly when a TorchSharp feature is first used: it registers itself from its module
/// initializer; when nothing has registered yet the library loads it by name, once. Without it, the feature fails with one sentence
/// naming the packages to add.
/// </summary>
internal static class TorchSharpPackage
{
    /// <summary>The package (and assembly) name.</summary>
    public const string Name = "PokeClassifier.TorchSharp";

    /// <summary>The head kind of the TorchSharp heads (<see cref="IClassifierHead.Kind"/>, the saved manifest's head kind).</summary>
    public const string HeadKind = "TorchSharp";

    private static readonly Lock Gate = new();
    private static ITorchSharpServices? _services;
    private static bool _loadTried;

    /// <summary>Called by the package's module initializer.</summary>
    public static void Register(ITorchSharpServices services)
    {
        ArgumentNullException.ThrowIfNull(services);
        _services = services;
    }

    /// <summary>Whether the package is there (loading it, the first time, when it has not registered yet).</summary>
    public static bool IsAvailable => TryGet() is not null;

    /// <summary>The package's services, or <see langword="null"/> when the application does not have it.</summary>
    public static ITorchSharpServices? TryGet()
    {
        if (_services is { } services)
        {
            return services;
        }

        lock (Gate)
        {
            if (!_loadTried)
            {
                _loadTried = true;
                try
                {
                    var assembly = Assembly.Load(new AssemblyName(Name));
                    RuntimeHelpers.RunModuleConstructor(assembly.ManifestModule.ModuleHandle);
                }
                catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
                {
                    // not referenced by the application: the caller says what to add
                }
            }
        }

        return _services;
    }

    /// <summary>The package's services.</summary>
    /// <param name="feature">What needs them, as the start of a sentence (for example <c>The TorchSharp head 'FlattenDense256'</c>).</param>
    /// <exception cref="PokeClassifierException">The application does not reference the package.</exception>
    public static ITorchSharpServices Require(string feature) => TryGet() ?? throw new PokeClassifierException(Missing(feature));

    /// <summary>The one-line error for <paramref name="feature"/> without the package.</summary>
    public static string Missing(string feature) =>
        $"{feature} needs the {Name} package, which this application does not reference: add it (dotnet add package {Name}) together with a libtorch " +
        "(TorchSharp-cpu, or TorchSharp-cuda-linux / TorchSharp-cuda-windows), or project-reference src/PokeClassifier.TorchSharp and import its build/PokeClassifier.TorchSharp.props.";
}
