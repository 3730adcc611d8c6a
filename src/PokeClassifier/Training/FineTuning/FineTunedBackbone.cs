using System.IO.Compression;
using PokeClassifier.Backbones;
using PokeClassifier.Features;

namespace PokeClassifier.Training;

/// <summary>
/// Keeps a fine-tuned backbone with a saved classifier: the file the fine-tuning wrote under the cache root exists only where it
/// ran, so <see cref="TrainedClassifier.Save"/> stores it in the zip and <see cref="TrainedClassifier.Load"/> puts it back (by
/// content hash) when the recorded path is missing.
/// </summary>
internal static class FineTunedBackbone
{
    public const string Entry = "PokeClassifier/backbone.onnx";

    /// <summary>Adds the backbone file to the saved zip when it is a fine-tuned one (a file in a <c>fine-tuned</c> folder).</summary>
    public static void Embed(string zipPath, BackboneSpec backbone)
    {
        if (Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(backbone.ModelPath))) != FineTuner.FolderName || !File.Exists(backbone.ModelPath))
        {
            return;
        }

        using var zip = ZipFile.Open(zipPath, ZipArchiveMode.Update);
        zip.CreateEntryFromFile(backbone.ModelPath, Entry, CompressionLevel.Optimal);
    }

    /// <summary>Writes the embedded backbone back under the cache root when the recorded file is missing, and points the manifest at it.</summary>
    /// <exception cref="ModelLoadException">The embedded backbone is not the recorded one.</exception>
    /// <param name="zip">The saved file.</param>
    /// <param name="manifest">Its manifest.</param>
    /// <param name="path">The file's path, for messages.</param>
    /// <param name="options">The loading featurizer's options: the backbone goes to <see cref="FineTuner.DirectoryFor"/> of them.</param>
    public static SavedManifest Extract(ZipArchive zip, SavedManifest manifest, string path, FeaturizerOptions? options)
    {
        if (File.Exists(manifest.Backbone.ModelPath) || zip.GetEntry(Entry) is not { } entry)
        {
            return manifest;
        }

        var directory = FineTuner.DirectoryFor(options ?? new FeaturizerOptions());
        System.IO.Directory.CreateDirectory(directory);
        var target = Path.Combine(directory, Path.GetFileName(manifest.Backbone.ModelPath));
        if (!File.Exists(target) || !string.Equals(ImageFeaturizer.HashFile(target), manifest.Backbone.ModelSha256, StringComparison.OrdinalIgnoreCase))
        {
            var temp = $"{target}.{Guid.NewGuid():N}.tmp";
            try
            {
                entry.ExtractToFile(temp, overwrite: true);
                if (!string.Equals(ImageFeaturizer.HashFile(temp), manifest.Backbone.ModelSha256, StringComparison.OrdinalIgnoreCase))
                {
                    throw new ModelLoadException($"'{path}': the embedded fine-tuned backbone is not the one the model records (SHA-256 {manifest.Backbone.ModelSha256}).");
                }

                File.Move(temp, target, overwrite: true);
            }
            finally
            {
                File.Delete(temp);
            }
        }

        return manifest with { Backbone = manifest.Backbone with { ModelPath = target } };
    }
}
