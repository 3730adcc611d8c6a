using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace PokeClassifier.Training.Custom;

/// <summary>Cached backbone features as a batch source: each batch is copied from the rows into a new tensor of the example shape.</summary>
internal sealed class FeatureBatchSource : IBatchSource
{
    private readonly IReadOnlyList<float[]> _rows;
    private readonly long[] _exampleShape;
    private readonly int _length;

    /// <param name="rows">One flattened feature vector per example.</param>
    /// <param name="labels">The class index of each example.</param>
    /// <param name="exampleShape">The shape of one example without the batch dimension ([512] or [512, 7, 7]).</param>
    public FeatureBatchSource(IReadOnlyList<float[]> rows, IReadOnlyList<int> labels, IReadOnlyList<int> exampleShape)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(exampleShape);
        if (rows.Count != labels.Count)
        {
            throw new ArgumentException($"{rows.Count} feature rows but {labels.Count} labels.", nameof(labels));
        }

        _rows = rows;
        _exampleShape = exampleShape.Select(d => (long)d).ToArray();
        _length = checked((int)_exampleShape.Aggregate(1L, (a, b) => a * b));
        for (var i = 0; i < rows.Count; i++)
        {
            if (rows[i].Length != _length)
            {
                throw new ArgumentException($"Feature row {i} has {rows[i].Length} values; the shape [{string.Join(",", exampleShape)}] needs {_length}.", nameof(rows));
            }
        }

        Labels = labels;
    }

    public int Count => _rows.Count;

    public IReadOnlyList<int> Labels { get; }

    public Tensor Inputs(IReadOnlyList<int> indices, bool training, Random random)
    {
        var batch = empty([indices.Count, .. _exampleShape], ScalarType.Float32);

        // The span is the tensor's own (CPU, contiguous) memory: one copy per row, no intermediate array.
        var destination = MemoryMarshal.Cast<byte, float>(batch.bytes);
        for (var i = 0; i < indices.Count; i++)
        {
            _rows[indices[i]].CopyTo(destination.Slice(i * _length, _length));
        }

        return batch;
    }
}
