using PokeClassifier.Data;

namespace PokeClassifier;

/// <summary>The entry point: <c>ImageClassification.FromFolder(path)</c> or <c>ImageClassification.From(dataset)</c>.</summary>
public static class ImageClassification
{
    /// <summary>Starts a run on a folder-per-class image tree (loaded and checked when the run starts).</summary>
    public static ClassificationBuilder FromFolder(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        return new ClassificationBuilder(folder, null);
    }

    /// <summary>Starts a run on a CSV manifest (<c>path,label[,group]</c>).</summary>
    public static ClassificationBuilder FromManifest(string manifestPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(manifestPath);
        return new ClassificationBuilder(manifestPath, null) { IsManifest = true };
    }

    /// <summary>Starts a run on a dataset already loaded.</summary>
    public static ClassificationBuilder From(ImageDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return new ClassificationBuilder(null, dataset);
    }
}
