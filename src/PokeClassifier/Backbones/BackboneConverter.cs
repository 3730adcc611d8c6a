using System.Globalization;
namespace PokeClassifier.Backbones;

/// <summary>
/// Turns a checkpoint (torchvision <c>.pth</c>, Keras <c>.h5</c>) into the ONNX backbone ONNX Runtime runs: the weights are loaded into the
/// TorchSharp module of <see cref="BackboneSpec.Architecture"/> (every name and shape checked) and the module is written as an ONNX graph
/// by the <c>PokeClassifier.TorchSharp</c> package (its <c>TorchGraphExporter</c>). The result is cached under <c>converted/</c> in the weight cache, named after the architecture,
/// the input size and the checkpoint's SHA-256, written to a temporary file and renamed into place, so the cache never holds half a graph.
/// </summary>
internal static class BackboneConverter
{
    /// <summary>The weight cache's sub-folder of converted backbones.</summary>
    public const string FolderName = "converted";

    /// <summary>Whether the spec is an ONNX Runtime backbone whose weights come as a checkpoint to convert.</summary>
    public static bool NeedsConversion(BackboneSpec spec) =>
        spec.Engine == BackboneEngine.OnnxRuntime && spec.Architecture is not null && spec.WeightSources.Count > 0 && spec.WeightSources.All(s => s.Format != WeightFormat.Onnx);

    /// <summary>How a conversion is named in the error when the TorchSharp package is missing.</summary>
    public static string ConversionFeature(BackboneSpec spec) =>
        $"Converting the pretrained backbone '{spec.Name}' ({spec.Architecture}, a {(spec.WeightSources.Any(s => s.Format == WeightFormat.KerasH5) ? "Keras" : "torchvision")} checkpoint) to ONNX";

    /// <summary>
    /// Whether the weight cache holds a conversion of <paramref name="spec"/>'s architecture at its input size (of some checkpoint), so
    /// that resolving it may need no TorchSharp.
    /// </summary>
    public static bool AnyConverted(string cacheDirectory, BackboneSpec spec)
    {
        var folder = Path.Combine(cacheDirectory, FolderName);
        return Directory.Exists(folder) && Directory.EnumerateFiles(folder, string.Create(CultureInfo.InvariantCulture, $"{spec.Architecture}-{spec.InputWidth}x{spec.InputHeight}-*.onnx")).Any();
    }

    /// <summary>Whether <paramref name="path"/> is a converted backbone already (a file of a <c>converted</c> folder).</summary>
    public static bool IsConverted(string path) =>
        string.Equals(Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(path))), FolderName, StringComparison.Ordinal) && path.EndsWith(".onnx", StringComparison.Ordinal);

    /// <summary>Where the conversion of a checkpoint with SHA-256 <paramref name="checkpointSha256"/> lives.</summary>
    public static string PathFor(string cacheDirectory, BackboneSpec spec, string checkpointSha256) =>
        Path.Combine(cacheDirectory, FolderName, string.Create(CultureInfo.InvariantCulture, $"{spec.Architecture}-{spec.InputWidth}x{spec.InputHeight}-{checkpointSha256}.onnx"));

    /// <summary>
    /// The spec with <see cref="BackboneSpec.ModelPath"/> set to the converted graph of <paramref name="checkpoint"/>, converting it
    /// unless the cache has it.
    /// </summary>
    /// <param name="spec">The backbone (its architecture and input size).</param>
    /// <param name="checkpoint">The verified weights file.</param>
    /// <param name="cacheDirectory">The weight cache.</param>
    /// <param name="openTemporary">Opens the temporary file to write (tests pass a full disk); <see langword="null"/> for a plain file.</param>
    /// <param name="cancellationToken">Checked before the conversion and before the rename.</param>
    /// <exception cref="ModelLoadException">The checkpoint does not fit the architecture (the message names the first mismatching tensor).</exception>
    /// <exception cref="PokeClassifierException">The graph could not be written (a full disk, no permission); nothing is left in the cache.</exception>
    public static BackboneSpec Convert(BackboneSpec spec, string checkpoint, string cacheDirectory, Func<string, Stream>? openTemporary, CancellationToken cancellationToken)
    {
        var target = PathFor(cacheDirectory, spec, FileHash.Sha256(checkpoint));
        if (File.Exists(target))
        {
            return spec with { ModelPath = target };
        }

        cancellationToken.ThrowIfCancellationRequested();
        var bytes = TorchSharpPackage.Require(ConversionFeature(spec)).ExportBackboneGraph(spec with { Engine = BackboneEngine.TorchSharp, ModelPath = checkpoint });
        cancellationToken.ThrowIfCancellationRequested();
        var folder = Path.GetDirectoryName(target)!;
        var temp = Path.Combine(folder, $"{Path.GetFileName(target)}.{Environment.ProcessId}.{Guid.NewGuid():N}.partial");
        try
        {
            Directory.CreateDirectory(folder);
            using (var stream = openTemporary?.Invoke(temp) ?? new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                stream.Write(bytes);
                stream.Flush();
                if (stream is FileStream file)
                {
                    file.Flush(flushToDisk: true); // the rename must never expose a graph whose bytes are not on disk
                }
            }

            File.Move(temp, target, overwrite: true);
            return spec with { ModelPath = target };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PokeClassifierException(string.Create(CultureInfo.InvariantCulture,
                $"Converting {spec.Name} to ONNX failed: writing {bytes.Length / (1 << 20)} MB to '{folder}' failed ({e.Message.TrimEnd('.')}); nothing was left in the cache. Free disk space there, or set POKECLASSIFIER_CACHE to another folder."), e);
        }
        finally
        {
            try
            {
                File.Delete(temp);
            }
            catch (IOException)
            {
                // best effort: a leftover partial is never read (only renamed files are), and its name says what it is
            }
            catch (UnauthorizedAccessException)
            {
                // same
            }
        }
    }
}
