using System.Security.Cryptography;
using System.Text;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Features;
using static TorchSharp.torch;

namespace PokeClassifier.Training;

/// <summary>Training examples as images: each batch decoded bytes → (augmented when training) → preprocessed tensor.</summary>
internal sealed class ImageBatchSource(FineTuneImages images, ImageTensorizer tensorizer, AugmentationOptions? augmentation) : IBatchSource
{
    public int Count => images.Count;

    public IReadOnlyList<int> Labels => images.Labels;

    public Tensor Inputs(IReadOnlyList<int> indices, bool training, Random random) =>
        tensorizer.Batch(images, indices, training ? augmentation : null, random);
}

/// <summary>
/// Training examples as the frozen part's output: the backbone below the first trained node runs once per image (under
/// <c>no_grad</c>, in batches) and its activations stay in one tensor, so each epoch runs only the trained blocks. With a
/// <see cref="FeatureCache"/> the activations are also stored on disk by content hash, so another run (another split of the same
/// images) computes none of them again.
/// </summary>
internal sealed class ActivationBatchSource : IBatchSource, IDisposable
{
    private readonly Tensor _activations;

    private ActivationBatchSource(Tensor activations, IReadOnlyList<int> labels, int computed)
    {
        _activations = activations;
        Labels = labels;
        Computed = computed;
    }

    public int Count => Labels.Count;

    public IReadOnlyList<int> Labels { get; }

    /// <summary>How many images went through the frozen part (the others came from the disk cache).</summary>
    public int Computed { get; }

    /// <summary>Memory held by the activations, in bytes.</summary>
    public long Bytes => _activations.numel() * 4;

    public Tensor Inputs(IReadOnlyList<int> indices, bool training, Random random)
    {
        using var index = tensor(indices.Select(i => (long)i).ToArray());
        return _activations.index_select(0, index);
    }

    /// <summary>Runs the frozen part over every image (or reads it from <paramref name="cache"/>).</summary>
    /// <param name="images">The images.</param>
    /// <param name="tensorizer">Preprocessing (no augmentation).</param>
    /// <param name="module">The backbone graph.</param>
    /// <param name="cut">The first trained node; exactly one tensor must cross there.</param>
    /// <param name="cacheIdentity">Identifies the frozen part (weights, preprocessing, size, cut) in <paramref name="cache"/>.</param>
    /// <param name="cache">The disk cache, or <see langword="null"/>.</param>
    /// <param name="progress">Images done so far.</param>
    /// <param name="cancellationToken">Checked between batches.</param>
    public static ActivationBatchSource Build(
        FineTuneImages images, ImageTensorizer tensorizer, OnnxGraphModule module, int cut, string cacheIdentity, FeatureCache? cache,
        IProgress<int>? progress, CancellationToken cancellationToken)
    {
        const int Batch = 16;
        long[]? shape = null;
        var rows = new float[images.Count][];
        var missing = new List<int>();
        var computed = 0;
        for (var i = 0; i < images.Count; i++)
        {
            if (cache is not null && TryShape(cache, cacheIdentity, images.Hashes[i], out var cached))
            {
                rows[i] = cached;
            }
            else
            {
                missing.Add(i);
            }
        }

        var frontier = module.Frontier(cut).Single();
        using (no_grad())
        {
            for (var start = 0; start < missing.Count; start += Batch)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var indices = missing.Skip(start).Take(Batch).ToArray();
                using var input = tensorizer.Batch(images, indices, null, Random.Shared);
                var outputs = module.RunPrefix(input, cut);
                var activation = outputs[frontier].contiguous();
                shape ??= activation.shape[1..];
                var values = activation.data<float>().ToArray();
                var length = values.Length / indices.Length;
                for (var k = 0; k < indices.Length; k++)
                {
                    rows[indices[k]] = values[(k * length)..((k + 1) * length)];
                    cache?.Write(cacheIdentity, images.Hashes[indices[k]], rows[indices[k]]);
                }

                computed += indices.Length;
                progress?.Report(images.Count - missing.Count + computed);
            }
        }

        if (shape is null)
        {
            // Everything came from the cache: one image through the frozen part tells the shape.
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            using var input = tensorizer.Batch(images, [0], null, Random.Shared);
            shape = module.RunPrefix(input, cut)[frontier].shape[1..];
        }

        var rowLength = shape.Aggregate(1L, (a, d) => a * d);
        var all = new float[images.Count * rowLength];
        for (var i = 0; i < rows.Length; i++)
        {
            if (rows[i].Length != rowLength)
            {
                throw new InvalidOperationException($"Cached activations of '{images.Items[i].Path}' have {rows[i].Length} values, not {rowLength}.");
            }

            rows[i].CopyTo(all, i * rowLength);
        }

        return new ActivationBatchSource(tensor(all, [images.Count, .. shape]), images.Labels, computed);
    }

    /// <summary>The cache key of the frozen part: the backbone's identity, the input size and the cut (the frozen weights are the original ones).</summary>
    public static string Identity(string backboneIdentity, int size, string cutTensor) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"finetune-activations-v1|{backboneIdentity}|{size}|{cutTensor}")))[..24];

    public void Dispose() => _activations.Dispose();

    private static bool TryShape(FeatureCache cache, string identity, string hash, out float[] values)
    {
        values = [];
        var path = cache.EntryPath(identity, hash);
        if (!File.Exists(path))
        {
            return false;
        }

        // The header holds the length; reading with the length the file claims is checked against the checksum.
        var length = (int)((new FileInfo(path).Length - 16) / 4);
        return length > 0 && cache.TryRead(identity, hash, length, out values);
    }
}
