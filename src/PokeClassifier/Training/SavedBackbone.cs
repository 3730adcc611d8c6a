using System.IO.Compression;
using PokeClassifier.Backbones;
using PokeClassifier.Features;

namespace PokeClassifier.Training;

/// <summary>
/// Keeps every backbone with a saved classifier, so the file stands alone on another machine with empty caches: a converted or imported
/// ONNX backbone, a fine-tuned one, a TorchSharp checkpoint. <see cref="TrainedClassifier.Save"/> stores the file in the zip
/// (<c>PokeClassifier/backbone.onnx</c>, or <c>PokeClassifier/backbone.pth</c> and the like for TorchSharp weights);
/// <see cref="TrainedClassifier.Load"/> uses the recorded path when it still holds the same bytes and otherwise writes the embedded
/// copy under the cache (<c>backbones/{sha256}{extension}</c>), verified by its SHA-256. Only the ResNet18 that ships with ML.NET's
/// package is not stored: every install of the library has it.
/// </summary>
internal static class SavedBackbone
{
    /// <summary>The entry of an ONNX backbone (fine-tuned backbones were stored there before other backbones were).</summary>
    public const string OnnxEntry = "PokeClassifier/backbone.onnx";

    /// <summary>The cache's sub-folder for backbones taken out of saved models.</summary>
    public const string FolderName = "backbones";

    /// <summary>The zip entry the backbone is stored under, or <see langword="null"/> for the shipped ResNet18.</summary>
    public static string? EntryFor(BackboneSpec backbone)
    {
        if (IsShippedResNet18(backbone))
        {
            return null;
        }

        if (backbone.Engine == BackboneEngine.OnnxRuntime)
        {
            return OnnxEntry;
        }

        var extension = Path.GetExtension(backbone.ModelPath).ToLowerInvariant();
        return "PokeClassifier/backbone" + (extension is ".pth" or ".pt" or ".safetensors" or ".h5" ? extension : ".weights");
    }

    /// <summary>Adds the backbone file to the saved zip.</summary>
    public static void Embed(string zipPath, BackboneSpec backbone)
    {
        if (EntryFor(backbone) is not { } entry || !File.Exists(backbone.ModelPath))
        {
            return;
        }

        using var zip = ZipFile.Open(zipPath, ZipArchiveMode.Update);
        zip.GetEntry(entry)?.Delete();

        // Weights are near-random floats: deflate gains ~7% on them, so the fastest level costs little.
        zip.CreateEntryFromFile(backbone.ModelPath, entry, CompressionLevel.Fastest);
    }

    /// <summary>
    /// Points the manifest at a copy of its backbone with the recorded SHA-256: the recorded path when it still holds it, else the copy
    /// embedded in the zip, written under the cache (once; later loads find it there).
    /// </summary>
    /// <param name="zip">The saved file.</param>
    /// <param name="manifest">Its manifest.</param>
    /// <param name="path">The file's path, for messages.</param>
    /// <param name="options">The loading featurizer's options: the backbone goes under their cache folder, else under the cache root.</param>
    /// <exception cref="ModelLoadException">The embedded backbone is not the recorded one.</exception>
    public static SavedManifest Extract(ZipArchive zip, SavedManifest manifest, string path, FeaturizerOptions? options)
    {
        var record = manifest.Backbone;
        if (File.Exists(record.ModelPath) && string.Equals(ImageFeaturizer.HashFile(record.ModelPath), record.ModelSha256, StringComparison.OrdinalIgnoreCase))
        {
            return manifest;
        }

        if (zip.GetEntry(record.Embedded ?? OnnxEntry) is not { } entry)
        {
            return manifest;
        }

        var directory = DirectoryFor(options);
        Directory.CreateDirectory(directory);
        var target = Path.Combine(directory, record.ModelSha256.ToLowerInvariant() + Path.GetExtension(entry.Name));
        if (!File.Exists(target) || !string.Equals(ImageFeaturizer.HashFile(target), record.ModelSha256, StringComparison.OrdinalIgnoreCase))
        {
            var temp = $"{target}.{Guid.NewGuid():N}.tmp";
            try
            {
                entry.ExtractToFile(temp, overwrite: true);
                if (!string.Equals(ImageFeaturizer.HashFile(temp), record.ModelSha256, StringComparison.OrdinalIgnoreCase))
                {
                    throw new ModelLoadException($"'{path}': the embedded backbone is not the one the model records ({record.Name}, SHA-256 {record.ModelSha256}); the file is damaged.");
                }

                File.Move(temp, target, overwrite: true);
            }
            finally
            {
                File.Delete(temp);
            }
        }

        return manifest with { Backbone = record with { ModelPath = target } };
    }

    /// <summary>Where embedded backbones are written: <c>backbones</c> beside the features when the featurizer caches, else under the cache root.</summary>
    public static string DirectoryFor(FeaturizerOptions? options) =>
        options is { UseCache: true }
            ? Path.Combine(Path.GetFullPath(options.CacheDirectory ?? FeatureCache.DefaultDirectory), FolderName)
            : Path.Combine(CacheRoot.Directory, FolderName);

    private static bool IsShippedResNet18(BackboneSpec backbone)
    {
        try
        {
            return string.Equals(Path.GetFullPath(backbone.ModelPath), Path.GetFullPath(BackboneSpec.ResNet18.ModelPath), StringComparison.Ordinal);
        }
        catch (ModelLoadException)
        {
            return false; // the package's files are not here, so this backbone is not them
        }
    }
}
