using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Training;

namespace PokeClassifier.Cli;

/// <summary>Turns command-line words into library objects, with one-line errors that say what to do.</summary>
internal static class Inputs
{
    /// <summary>Backbones this version can run, by command-line name.</summary>
    public static readonly IReadOnlyList<string> Backbones = ["resnet18"];

    /// <summary>Backbones that are planned but not in this version.</summary>
    private static readonly IReadOnlyList<string> PlannedBackbones = ["densenet201", "vgg16"];

    public static readonly IReadOnlyDictionary<string, MLNetTrainer> Heads = new Dictionary<string, MLNetTrainer>(StringComparer.OrdinalIgnoreCase)
    {
        ["lbfgs"] = MLNetTrainer.LbfgsMaximumEntropy,
        ["sdca"] = MLNetTrainer.SdcaMaximumEntropy,
        ["lightgbm"] = MLNetTrainer.LightGbm,
    };

    public static BackboneSpec Backbone(string name, string? weights)
    {
        var key = name.Trim().ToLowerInvariant();
        if (PlannedBackbones.Contains(key))
        {
            throw new CliException(ExitCodes.NotAvailable, $"backbone '{name}' is not available in this version (it comes with the TorchSharp path). Available: {string.Join(", ", Backbones)}.");
        }

        if (!Backbones.Contains(key))
        {
            throw CliException.Usage($"unknown backbone '{name}'. Available: {string.Join(", ", Backbones)}.");
        }

        var spec = BackboneSpec.ResNet18;
        if (weights is null)
        {
            return spec;
        }

        if (!File.Exists(weights))
        {
            throw new ModelLoadException($"weights file '{weights}' does not exist");
        }

        return spec with { ModelPath = Path.GetFullPath(weights) };
    }

    public static MLNetTrainer Head(string name) => Heads.TryGetValue(name.Trim(), out var trainer)
        ? trainer
        : throw CliException.Usage($"unknown head '{name}'. Available: {string.Join(", ", Heads.Keys)}.");

    /// <summary>Loads a folder-per-class tree or a CSV manifest.</summary>
    public static async Task<ImageDataset> LoadAsync(string data, IReadOnlyList<string>? classes, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        ImageDataset dataset;
        if (Directory.Exists(data))
        {
            dataset = await ImageDataset.FromFolderAsync(data, progress: progress, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        else if (File.Exists(data) && data.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
        {
            dataset = await ImageDataset.FromManifestAsync(data, progress: progress, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        else if (File.Exists(data))
        {
            throw CliException.DataError($"'{data}' is a file but not a manifest (.csv). Pass a folder with one sub-folder per class, or a manifest .csv with path and label columns.");
        }
        else
        {
            throw CliException.DataError($"'{data}' does not exist. Pass a folder with one sub-folder per class, or a manifest .csv (run 'pokeclassifier prepare' for the default dataset).");
        }

        if (classes is null)
        {
            return dataset;
        }

        var unknown = classes.Where(c => !dataset.Classes.Contains(c, StringComparer.Ordinal)).ToArray();
        if (unknown.Length > 0)
        {
            throw CliException.DataError($"--classes names {string.Join(", ", unknown.Take(10))}, which the dataset does not have. Its classes include: {string.Join(", ", dataset.Classes.Take(10))}{(dataset.Classes.Count > 10 ? ", ..." : string.Empty)}.");
        }

        var wanted = classes.ToHashSet(StringComparer.Ordinal);
        return dataset.Where(i => wanted.Contains(i.Label));
    }

    /// <summary>Image files named on the command line: files as given, folders searched recursively (hidden entries skipped).</summary>
    public static IReadOnlyList<string> ExpandImages(IEnumerable<string> paths)
    {
        var files = new List<string>();
        foreach (var path in paths)
        {
            if (File.Exists(path))
            {
                files.Add(path);
            }
            else if (Directory.Exists(path))
            {
                files.AddRange(Directory.EnumerateFiles(path, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.Hidden })
                    .Where(f => !Path.GetFileName(f).StartsWith('.') && !IsSidecar(f))
                    .Order(StringComparer.Ordinal));
            }
            else
            {
                throw CliException.DataError($"'{path}' does not exist. Pass image files or folders of images.");
            }
        }

        return files;
    }

    private static bool IsSidecar(string file) =>
        Path.GetExtension(file).ToLowerInvariant() is ".csv" or ".tsv" or ".txt" or ".md" or ".json";
}
