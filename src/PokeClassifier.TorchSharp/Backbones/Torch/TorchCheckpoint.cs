using System.Collections;
using System.Globalization;
using System.Text;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PokeClassifier.Backbones.Torch;

/// <summary>
/// Reads a state dict (PyTorch <c>.pth</c> in the zip format through TorchSharp.PyBridge, PyTorch's legacy pre-1.6 format, or
/// <c>.safetensors</c>), checks every name and shape against the network before changing anything, and copies the tensors in.
/// </summary>
internal static class TorchCheckpoint
{
    /// <summary>Builds <paramref name="architecture"/> with the checkpoint's number of classes and loads the checkpoint into it.</summary>
    /// <exception cref="ModelLoadException">The file is missing, unreadable, or does not fit the network; the message lists every mismatch.</exception>
    public static Module<Tensor, Tensor> Load(TorchArchitecture architecture, string path)
    {
        ArgumentNullException.ThrowIfNull(architecture);
        var checkpoint = IsHdf5(path)
            ? architecture.ReadKeras?.Invoke(path) ?? throw new ModelLoadException($"Weights file '{path}' is an HDF5 (Keras) file, but {architecture.Name} reads torchvision checkpoints; the Keras forms are {string.Join(", ", TorchArchitecture.Names.Where(n => TorchArchitecture.Get(n).ReadKeras is not null))}.")
            : Read(path);
        try
        {
            var renamed = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (key, tensor) in checkpoint)
            {
                renamed[architecture.RenameKey(key)] = tensor;
            }

            var classes = architecture.ClassifierWeight is { } head && renamed.TryGetValue(head, out var weight) && weight.dim() >= 1 ? (int)weight.shape[0] : 1000;
            var module = architecture.Create(classes);
            try
            {
                CopyInto(module, renamed, architecture.OptionalPrefix is null ? $"{architecture.Name} ({classes} classes)" : architecture.Name, path, architecture.OptionalPrefix);
                return module;
            }
            catch
            {
                module.Dispose();
                throw;
            }
        }
        finally
        {
            foreach (var tensor in checkpoint.Values)
            {
                tensor.Dispose();
            }
        }
    }

    /// <summary>
    /// Checks that <paramref name="checkpoint"/> has exactly the module's tensors with the module's shapes (a missing
    /// <c>num_batches_tracked</c> is allowed: checkpoints from before PyTorch 0.4 have none, and inference does not use it), then copies them.
    /// </summary>
    /// <exception cref="ModelLoadException">Listing every missing, unexpected and misshapen tensor, with both shapes.</exception>
    public static void CopyInto(Module module, IReadOnlyDictionary<string, Tensor> checkpoint, string moduleName, string path, string? optionalPrefix = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(checkpoint);
        var expected = module.state_dict();
        var missing = expected.Where(e => !checkpoint.ContainsKey(e.Key) && !e.Key.EndsWith(".num_batches_tracked", StringComparison.Ordinal)
            && (optionalPrefix is null || !e.Key.StartsWith(optionalPrefix, StringComparison.Ordinal))).ToList();
        var unexpected = checkpoint.Where(c => !expected.ContainsKey(c.Key)).ToList();
        var misshapen = expected.Where(e => checkpoint.TryGetValue(e.Key, out var c) && !c.shape.SequenceEqual(e.Value.shape)).ToList();
        if (missing.Count + unexpected.Count + misshapen.Count > 0)
        {
            // The first tensor, in the network's order, that is missing or misshapen (else the first unexpected one) says the most.
            var first = expected.Select(e => e.Key).FirstOrDefault(k => missing.Any(m => m.Key == k) || misshapen.Any(m => m.Key == k)) ?? unexpected[0].Key;
            var firstText = checkpoint.TryGetValue(first, out var found) && expected.TryGetValue(first, out var wanted)
                ? $"'{first}' is {Shape(found)} in the file, the network expects {Shape(wanted)}"
                : expected.TryGetValue(first, out var absent) ? $"'{first}' {Shape(absent)} is missing from the file" : $"'{first}' is not a tensor of the network";
            var message = new StringBuilder().Append(CultureInfo.InvariantCulture, $"Checkpoint '{path}' does not fit {moduleName} (the first mismatching tensor: {firstText}):");
            if (missing.Count > 0)
            {
                message.Append(CultureInfo.InvariantCulture, $" missing {missing.Count} tensor(s): {List(missing.Select(m => $"{m.Key} (expected {Shape(m.Value)})"))};");
            }

            if (unexpected.Count > 0)
            {
                message.Append(CultureInfo.InvariantCulture, $" unexpected {unexpected.Count} tensor(s): {List(unexpected.Select(u => $"{u.Key} {Shape(u.Value)}"))};");
            }

            if (misshapen.Count > 0)
            {
                message.Append(CultureInfo.InvariantCulture, $" {misshapen.Count} tensor(s) of the wrong shape: {List(misshapen.Select(m => $"{m.Key} is {Shape(checkpoint[m.Key])} in the checkpoint, the network expects {Shape(m.Value)}"))};");
            }

            message.Length--;
            message.Append(". Check that the weights are for this architecture (torchvision's layout).");
            throw new ModelLoadException(message.ToString());
        }

        using (no_grad())
        {
            foreach (var (key, target) in expected)
            {
                if (checkpoint.TryGetValue(key, out var source))
                {
                    target.copy_(source);
                }
            }
        }
    }

    private static bool IsHdf5(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        var head = new byte[8];
        using var stream = File.OpenRead(path);
        return KerasWeights.IsHdf5(head.AsSpan(0, stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false)));
    }

    /// <summary>Reads every tensor of a state dict file; the caller disposes them. The format is told by content, not by extension.</summary>
    /// <exception cref="ModelLoadException">Missing, unreadable or not a state dict.</exception>
    public static Dictionary<string, Tensor> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new ModelLoadException($"Weights file '{path}' does not exist.");
        }

        var head = new byte[9];
        int read;
        using (var stream = File.OpenRead(path))
        {
            read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }

        try
        {
            if (read >= 4 && head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4)
            {
                using var stream = File.OpenRead(path);
                return FromHashtable(PyTorchUnpickler.UnpickleStateDict(stream, leaveOpen: true), path);
            }

            if (read >= 2 && head[0] == 0x80)
            {
                using var stream = File.OpenRead(path);
                return LegacyTorchCheckpoint.Read(stream);
            }

            if (read == head.Length && head[8] == (byte)'{' && BitConverter.ToUInt64(head, 0) < (ulong)new FileInfo(path).Length)
            {
                return Safetensors.LoadStateDict(path);
            }
        }
        catch (Exception e) when (e is not ModelLoadException and not OutOfMemoryException)
        {
            throw new ModelLoadException($"Weights file '{path}' could not be read as a state dict: {e.Message}", e);
        }

        throw new ModelLoadException($"Weights file '{path}' is neither a PyTorch checkpoint (torch.save of a state_dict) nor a safetensors file.");
    }

    private static Dictionary<string, Tensor> FromHashtable(Hashtable table, string path)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in table)
        {
            if (entry.Key is string key && entry.Value is Tensor tensor)
            {
                result[key] = tensor;
            }
            else
            {
                foreach (var t in result.Values)
                {
                    t.Dispose();
                }

                throw new ModelLoadException($"Weights file '{path}' is not a state dict: entry '{entry.Key}' is a {entry.Value?.GetType().Name ?? "null"}, not a tensor. Save model.state_dict().");
            }
        }

        return result;
    }

    // Names in network order; a checkpoint for another architecture mismatches everywhere, so long lists are cut.
    private static string List(IEnumerable<string> items)
    {
        const int Shown = 12;
        var all = items.ToList();
        return all.Count <= Shown ? string.Join(", ", all) : string.Join(", ", all.Take(Shown)) + $" and {all.Count - Shown} more";
    }

    internal static string Shape(Tensor tensor) => "[" + string.Join(",", tensor.shape) + "]";
}
