using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Features;
using PokeClassifier.Training.Custom;
using static TorchSharp.torch;

namespace PokeClassifier.Training.FineTuning;

/// <summary>
/// Training examples as images: each batch decoded bytes → (augmented when training) → preprocessed tensor, shrunk to
/// <see cref="TrainingSize"/> when training at a smaller size (progressive resizing).
/// </summary>
internal sealed class ImageBatchSource(FineTuneImages images, ImageTensorizer tensorizer, AugmentationOptions? augmentation) : IBatchSource
{
    public int Count => images.Count;

    public IReadOnlyList<int> Labels => images.Labels;

    /// <summary>The images' full size (they are decoded at it; validation and scoring use it).</summary>
    public int FullSize => tensorizer.Size;

    /// <summary>The side of training batches: <see cref="FullSize"/> unless progressive resizing set a smaller one for this epoch.</summary>
    public int TrainingSize { get; set; } = tensorizer.Size;

    public Tensor Inputs(IReadOnlyList<int> indices, bool training, Random random)
    {
        var batch = tensorizer.Batch(images, indices, training ? augmentation : null, random);
        if (!training || TrainingSize == tensorizer.Size)
        {
            return batch;
        }

        // Area averaging: every output pixel is the mean of the input pixels it covers, so shrinking does not alias. Preprocessing
        // is per-pixel affine (and the mean image is resized the same way), so shrinking after it equals shrinking before it.
        using (batch)
        {
            return nn.functional.interpolate(batch, [TrainingSize, TrainingSize], mode: InterpolationMode.Area);
        }
    }
}

/// <summary>Sets each epoch's training size from <see cref="ProgressiveResizingOptions"/> before the epoch starts.</summary>
internal sealed class ProgressiveResizingCallback(ProgressiveResizingOptions options, ImageBatchSource source) : ITrainingCallback
{
    /// <summary>The size each epoch trained at, in order.</summary>
    public List<int> Sizes { get; } = [];

    public void OnEpochStarting(TrainingState state)
    {
        source.TrainingSize = options.SizeAt(state.Epoch, state.Options.Epochs, source.FullSize);
        Sizes.Add(source.TrainingSize);
    }

    public void OnTrainingEnded(TrainingState state) => source.TrainingSize = source.FullSize;
}

/// <summary>
/// Training examples as the frozen part's output: the backbone below the first trained node runs once per image (and, with mirror
/// views, once more per mirrored image) and its activations stay in one tensor, so each epoch runs only the trained blocks. With a
/// <see cref="FrozenPrefix"/> the frozen part runs in ONNX Runtime, else in TorchSharp under <c>no_grad</c>. With a
/// <see cref="FeatureCache"/> the activations are also stored on disk by content hash (each view under its own identity), so another
/// run (another split of the same images) computes none of them again. Training batches draw one view per example at random (the
/// mirror image is a free augmentation); scoring uses the image itself.
/// </summary>
internal sealed class ActivationBatchSource : IBatchSource, IDisposable
{
    private readonly Tensor _activations;
    private readonly int _views;

    private ActivationBatchSource(Tensor activations, int views, IReadOnlyList<int> labels, int computed)
    {
        _activations = activations;
        _views = views;
        Labels = labels;
        Computed = computed;
    }

    public int Count => Labels.Count;

    public IReadOnlyList<int> Labels { get; }

    /// <summary>How many activations (images times views) were computed (the others came from the disk cache).</summary>
    public int Computed { get; }

    /// <summary>Memory held by the activations (stored as float16), in bytes.</summary>
    public long Bytes => _activations.numel() * 2;

    public Tensor Inputs(IReadOnlyList<int> indices, bool training, Random random)
    {
        var rows = new long[indices.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = indices[i] + (training && _views > 1 ? (long)random.Next(_views) * Count : 0);
        }

        using var index = tensor(rows);
        using var selected = _activations.index_select(0, index);
        return selected.to_type(ScalarType.Float32);
    }

    /// <summary>Runs the frozen part over every image, and its mirror image when <paramref name="mirrorViews"/> (or reads them from <paramref name="cache"/>).</summary>
    /// <param name="images">The images.</param>
    /// <param name="tensorizer">Preprocessing (no augmentation), for the TorchSharp path.</param>
    /// <param name="module">The backbone graph.</param>
    /// <param name="cut">The first trained node; exactly one tensor must cross there.</param>
    /// <param name="prefix">The frozen part in ONNX Runtime (for this cut and the images' size), or <see langword="null"/> to run it in TorchSharp.</param>
    /// <param name="mirrorViews">Whether the mirror images' activations are computed too (a second view per image).</param>
    /// <param name="cacheIdentity">Identifies the frozen part (weights, preprocessing, size, cut) in <paramref name="cache"/>.</param>
    /// <param name="cache">The disk cache, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Checked between images.</param>
    public static ActivationBatchSource Build(
        FineTuneImages images, ImageTensorizer tensorizer, OnnxGraphModule module, int cut, FrozenPrefix? prefix, bool mirrorViews,
        string cacheIdentity, FeatureCache? cache, CancellationToken cancellationToken)
    {
        var views = mirrorViews ? 2 : 1;
        var identities = Enumerable.Range(0, views).Select(v => v == 0 ? cacheIdentity : ViewIdentity(cacheIdentity, "mirror")).ToArray();
        var frontier = module.Frontier(cut).Single();
        long[] shape = prefix is not null ? [.. prefix.Shape] : OneShape(images, tensorizer, module, cut, frontier);
        var rowLength = shape.Aggregate(1L, (a, d) => a * d);
        var rowCount = views * images.Count;

        // One native tensor filled row by row, so memory peaks at the activations plus a row, not at two copies of them. Rows of
        // the frozen part's output are stored as float16 (half the memory; batches are float32 again), the full-precision rows in
        // the disk cache.
        var all = empty([rowCount, .. shape], ScalarType.Float16);

        // The row views are made here, on the calling thread, and the workers only write the float16 values into their rows'
        // memory: no tensor is created, copied into or disposed on a worker thread.
        var rows = new Tensor[rowCount];
        void Copy(int r, float[] values)
        {
            if (values.Length != rowLength)
            {
                throw new InvalidOperationException($"Activations of '{images.Items[r % images.Count].Path}' have {values.Length} values, not {rowLength}.");
            }

            var destination = MemoryMarshal.Cast<byte, Half>(rows[r].bytes);
            for (var i = 0; i < values.Length; i++)
            {
                destination[i] = (Half)values[i];
            }
        }

        var missing = new List<int>();
        try
        {
            for (var r = 0; r < rowCount; r++)
            {
                rows[r] = all[r];
            }

            for (var r = 0; r < rowCount; r++)
            {
                if (cache is not null && TryShape(cache, identities[r / images.Count], images.Hashes[r % images.Count], out var cached))
                {
                    Copy(r, cached);
                }
                else
                {
                    missing.Add(r);
                }
            }

            void Store(int r, float[] values)
            {
                Copy(r, values);
                cache?.Write(identities[r / images.Count], images.Hashes[r % images.Count], values);
            }

            if (prefix is not null && missing.Count > 0)
            {
                // One work item per image with its missing views, so an image read from its file (not held) is decoded once; each
                // worker reuses its own planes, input and output buffers from image to image.
                Parallel.ForEach(
                    missing.GroupBy(r => r % images.Count).ToArray(),
                    new ParallelOptions { MaxDegreeOfParallelism = prefix.Parallelism, CancellationToken = cancellationToken },
                    () => (Planes: new byte[images.PlaneLength], Input: new float[images.PlaneLength], Output: new float[rowLength]),
                    (rows, _, buffers) =>
                    {
                        images.CopyPlanes(rows.Key, buffers.Planes);
                        foreach (var r in rows)
                        {
                            prefix.Run(buffers.Planes, mirrored: r >= images.Count, buffers.Input, buffers.Output, cancellationToken);
                            Store(r, buffers.Output);
                        }

                        return buffers;
                    },
                    _ => { });
            }
            else if (prefix is null)
            {
                RunInTorch(images, tensorizer, module, cut, frontier, missing, Store, cancellationToken);
            }
        }
        catch
        {
            all.Dispose();
            throw;
        }
        finally
        {
            foreach (var row in rows)
            {
                row?.Dispose();
            }
        }

        return new ActivationBatchSource(all, views, images.Labels, missing.Count);
    }

    /// <summary>
    /// The backbone's output for every row (each view) of these activations: the nodes from <paramref name="cut"/> on, run with their
    /// current weights under <c>no_grad</c> in eval mode, so the whole frozen backbone's features come without running the frozen part
    /// again.
    /// </summary>
    public ActivationBatchSource Through(OnnxGraphModule module, int cut)
    {
        const int Batch = 64;
        var frontier = module.Frontier(cut).Single();
        var rows = new List<Tensor>();
        module.eval();
        using (no_grad())
        {
            for (var start = 0L; start < _activations.shape[0]; start += Batch)
            {
                using var scope = NewDisposeScope();
                var input = _activations.narrow(0, start, Math.Min(Batch, _activations.shape[0] - start)).to_type(ScalarType.Float32);
                rows.Add(module.RunSuffix(new Dictionary<string, Tensor>(StringComparer.Ordinal) { [frontier] = input }, cut).contiguous().MoveToOuterDisposeScope());
            }
        }

        var features = cat(rows, 0);
        rows.ForEach(t => t.Dispose());
        return new ActivationBatchSource(features, _views, Labels, computed: 0);
    }

    /// <summary>The cache key of the frozen part: the backbone's identity, the input size and the cut (the frozen weights are the original ones).</summary>
    public static string Identity(string backboneIdentity, int size, string cutTensor) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"finetune-activations-v1|{backboneIdentity}|{size}|{cutTensor}")))[..24];

    /// <summary>The cache key of another view (the mirror image) of the same frozen part.</summary>
    public static string ViewIdentity(string identity, string view) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{identity}|{view}")))[..24];

    public void Dispose() => _activations.Dispose();

    private static void RunInTorch(
        FineTuneImages images, ImageTensorizer tensorizer, OnnxGraphModule module, int cut, string frontier, List<int> missing,
        Action<int, float[]> store, CancellationToken cancellationToken)
    {
        const int Batch = 16;
        using var noGrad = no_grad();
        module.eval();
        for (var start = 0; start < missing.Count; start += Batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var rows = missing.Skip(start).Take(Batch).ToArray();
            var input = tensorizer.Batch(images, rows.Select(r => r % images.Count).ToArray(), rows.Select(r => r >= images.Count).ToArray());
            var activation = module.RunPrefix(input, cut)[frontier].contiguous();
            var values = activation.data<float>().ToArray();
            var length = values.Length / rows.Length;
            for (var k = 0; k < rows.Length; k++)
            {
                store(rows[k], values[(k * length)..((k + 1) * length)]);
            }
        }
    }

    private static long[] OneShape(FineTuneImages images, ImageTensorizer tensorizer, OnnxGraphModule module, int cut, string frontier)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        module.eval();
        using var input = tensorizer.Batch(images, [0], null, Random.Shared);
        return module.RunPrefix(input, cut)[frontier].shape[1..];
    }

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
