using System.IO.Compression;

namespace PokeClassifier.Training;

/// <summary>How one kind of trained head comes back from a saved model and goes into an ONNX export.</summary>
internal sealed class HeadFormat
{
    private HeadFormat(string kind, Func<ZipArchive, SavedManifest, string, IClassifierHead> load, Func<IClassifierHead, OnnxClassifierExporter.HeadWriter> onnx, string missingBackbone)
    {
        Kind = kind;
        Load = load;
        OnnxHead = onnx;
        MissingBackboneAdvice = missingBackbone;
    }

    /// <summary>The manifest's head kind (<see cref="IClassifierHead.Kind"/>).</summary>
    public string Kind { get; }

    /// <summary>Reads the head from the saved zip (its manifest and path, for messages).</summary>
    public Func<ZipArchive, SavedManifest, string, IClassifierHead> Load { get; }

    /// <summary>The head's part of an ONNX export (it may refuse with <see cref="NotSupportedException"/>).</summary>
    public Func<IClassifierHead, OnnxClassifierExporter.HeadWriter> OnnxHead { get; }

    /// <summary>What to do when a model saved before backbones travelled inside it does not find its backbone.</summary>
    public string MissingBackboneAdvice { get; }

    /// <summary>A format for heads of type <typeparamref name="THead"/>, each function typed to it.</summary>
    public static HeadFormat Of<THead>(string kind, Func<ZipArchive, SavedManifest, string, THead> load, Func<THead, OnnxClassifierExporter.HeadWriter> onnx, string missingBackboneAdvice)
        where THead : IClassifierHead =>
        new(kind, (zip, manifest, path) => load(zip, manifest, path), head => onnx((THead)head), missingBackboneAdvice);
}

/// <summary>
/// The one registry of head kinds, keyed by the kind a saved manifest records: <see cref="TrainedClassifier.Load"/> and
/// <see cref="TrainedClassifier.ExportOnnx"/> find the head's format here, so a new kind of head registers one entry and nothing
/// else switches on head types. The library registers the ML.NET kind; the <c>PokeClassifier.TorchSharp</c> package registers the
/// TorchSharp kind from its module initializer (<see cref="TorchSharpPackage"/> loads it when a saved model needs it).
/// </summary>
internal static class HeadFormats
{
    private static readonly Lock Gate = new();
    private static HeadFormat[] _registered =
    [
        HeadFormat.Of<MLNetHead>(
            MLNetHead.TrainingPath, MLNetHead.Load, OnnxClassifierExporter.MLNetLinear,
            "The file was saved before backbones were stored in it: pass the backbone to TrainedClassifier.Load, or load the file with MLContext.Model.Load, which needs no external file."),
    ];

    /// <summary>The kinds this process reads (the TorchSharp kind once its package is loaded).</summary>
    public static IReadOnlyList<string> Kinds => [.. _registered.Select(f => f.Kind)];

    /// <summary>Adds a kind, or replaces the kind's format (the TorchSharp package's module initializer calls it).</summary>
    public static void Register(HeadFormat format)
    {
        ArgumentNullException.ThrowIfNull(format);
        lock (Gate)
        {
            _registered = [.. _registered.Where(f => !string.Equals(f.Kind, format.Kind, StringComparison.Ordinal)), format];
        }
    }

    /// <summary>
    /// The format of <paramref name="kind"/>, or <see langword="null"/> when no such kind is registered. An unknown kind first makes the
    /// library look for the <c>PokeClassifier.TorchSharp</c> package, which registers its kinds.
    /// </summary>
    public static HeadFormat? Find(string kind)
    {
        var format = Lookup(kind);
        if (format is null && TorchSharpPackage.TryGet() is not null)
        {
            format = Lookup(kind);
        }

        return format;
    }

    private static HeadFormat? Lookup(string kind) => _registered.FirstOrDefault(f => string.Equals(f.Kind, kind, StringComparison.Ordinal));
}
