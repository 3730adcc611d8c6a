using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PokeClassifier.Training.Custom.Callbacks;

/// <summary>Copies of a module's parameters and buffers: taken, put back, written to and read from a checkpoint.</summary>
internal static class ModelSnapshot
{
    /// <summary>Copies of every parameter and buffer, owned by no dispose scope (the caller disposes them).</summary>
    public static Dictionary<string, Tensor> Take(Module<Tensor, Tensor> model)
    {
        var copy = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (name, value) in model.state_dict())
        {
            copy[name] = value.detach().clone().DetachFromDisposeScope();
        }

        return copy;
    }

    public static void Restore(Module<Tensor, Tensor> model, IReadOnlyDictionary<string, Tensor> snapshot)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (name, value) in model.state_dict())
        {
            if (!snapshot.TryGetValue(name, out var saved) || !saved.shape.SequenceEqual(value.shape))
            {
                throw new InvalidDataException($"The saved weights do not fit the model: '{name}' [{string.Join(",", value.shape)}] is {(saved is null ? "missing" : $"[{string.Join(",", saved.shape)}]")}.");
            }

            value.copy_(saved);
        }
    }

    public static void Dispose(Dictionary<string, Tensor>? tensors)
    {
        foreach (var t in tensors?.Values ?? Enumerable.Empty<Tensor>())
        {
            t.Dispose();
        }
    }

    /// <summary>Writes the tensors (name, dtype, shape, raw bytes) or a count of -1 for none.</summary>
    public static void Write(BinaryWriter writer, IReadOnlyDictionary<string, Tensor>? tensors)
    {
        if (tensors is null)
        {
            writer.Write(-1);
            return;
        }

        writer.Write(tensors.Count);
        foreach (var (name, value) in tensors.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            // Through the CPU: the bytes of a tensor on a GPU cannot be read in place.
            using var onCpu = value.cpu();
            using var contiguous = onCpu.contiguous();
            writer.Write(name);
            writer.Write((int)contiguous.dtype);
            writer.Write(contiguous.shape.Length);
            foreach (var d in contiguous.shape)
            {
                writer.Write(d);
            }

            var bytes = contiguous.bytes;
            writer.Write(bytes.Length);
            writer.Write(bytes);
        }
    }

    public static Dictionary<string, Tensor>? Read(BinaryReader reader)
    {
        var count = reader.ReadInt32();
        if (count < 0)
        {
            return null;
        }

        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var name = reader.ReadString();
            var dtype = (ScalarType)reader.ReadInt32();
            var shape = new long[reader.ReadInt32()];
            for (var d = 0; d < shape.Length; d++)
            {
                shape[d] = reader.ReadInt64();
            }

            var bytes = reader.ReadBytes(reader.ReadInt32());
            var t = empty(shape, dtype);
            bytes.CopyTo(t.bytes);
            tensors[name] = t;
        }

        return tensors;
    }
}
