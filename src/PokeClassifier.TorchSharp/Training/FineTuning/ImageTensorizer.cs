using PokeClassifier.Backbones;
using static TorchSharp.torch;

namespace PokeClassifier.Training;

/// <summary>
/// Turns decoded images into the backbone's input batch with TorchSharp: the augmentation (random resized crop, horizontal flip,
/// colour jitter, each drawn from the run's <see cref="Random"/> in a fixed order) on the 0..255 RGB planes, then the backbone's
/// preprocessing with the constants of <see cref="Preprocessor"/> (plane order, scale, offset, mean image).
/// </summary>
internal sealed class ImageTensorizer : IDisposable
{
    private static readonly float[] Luma = [0.299f, 0.587f, 0.114f];
    private readonly Tensor _planes;
    private readonly Tensor _scale;
    private readonly Tensor _offset;
    private readonly Tensor? _mean;
    private readonly Tensor _grey;

    public ImageTensorizer(ImagePreprocessing preprocessing, int size)
    {
        Size = size;
        var p = new Preprocessor(preprocessing, size, size, resizeMeanImage: true);
        _planes = tensor(p.SourcePlane.Select(i => (long)i).ToArray());
        _scale = tensor(p.Scale.ToArray(), [1, 3, 1, 1]);
        _offset = tensor(p.Offset.ToArray(), [1, 3, 1, 1]);
        _mean = p.MeanImage is { } m ? tensor(m, [1, 3, size, size]) : null;
        _grey = tensor(Luma, [3, 1, 1]);
    }

    public int Size { get; }

    /// <summary>The preprocessed batch [n, 3, Size, Size] of the images at <paramref name="indices"/>, augmented when options are given.</summary>
    public Tensor Batch(FineTuneImages images, IReadOnlyList<int> indices, AugmentationOptions? augmentation, Random random)
    {
        using var raw = Raw(images, indices);
        using var pixels = raw.to_type(ScalarType.Float32);
        using var augmented = augmentation is { IsEnabled: true } a ? Augment(pixels, a, random) : pixels.alias();
        return Preprocess(augmented);
    }

    /// <summary>The preprocessed batch [n, 3, Size, Size] of the images at <paramref name="indices"/>, each mirrored first where <paramref name="mirrored"/> says so.</summary>
    public Tensor Batch(FineTuneImages images, IReadOnlyList<int> indices, IReadOnlyList<bool> mirrored)
    {
        using var plain = Raw(images, indices);
        using var pixels = plain.to_type(ScalarType.Float32);
        using var condition = tensor(mirrored.ToArray()).reshape(-1, 1, 1, 1);
        using var flipped = pixels.flip(3);
        using var chosen = where(condition, flipped, pixels);
        return Preprocess(chosen);
    }

    /// <summary>The backbone's preprocessing of RGB planes in 0..255.</summary>
    public Tensor Preprocess(Tensor rgb)
    {
        using var ordered = rgb.index_select(1, _planes);
        using var scaled = ordered * _scale;
        var shifted = scaled + _offset;
        if (_mean is null)
        {
            return shifted;
        }

        using (shifted)
        {
            return shifted - _mean;
        }
    }

    private Tensor Raw(FineTuneImages images, IReadOnlyList<int> indices)
    {
        var plane = 3L * Size * Size;
        var bytes = new byte[indices.Count * plane];
        for (var i = 0; i < indices.Count; i++)
        {
            images.Pixels[indices[i]].CopyTo(bytes, i * plane);
        }

        return tensor(bytes, [indices.Count, 3, Size, Size]);
    }

    public void Dispose()
    {
        _planes.Dispose();
        _scale.Dispose();
        _offset.Dispose();
        _mean?.Dispose();
        _grey.Dispose();
    }

    private Tensor Augment(Tensor batch, AugmentationOptions a, Random random)
    {
        var samples = new List<Tensor>((int)batch.shape[0]);
        try
        {
            for (var n = 0; n < batch.shape[0]; n++)
            {
                using var image = batch[n];
                samples.Add(AugmentOne(image, a, random));
            }

            return stack(samples);
        }
        finally
        {
            foreach (var s in samples)
            {
                s.Dispose();
            }
        }
    }

    private Tensor AugmentOne(Tensor image, AugmentationOptions a, Random random)
    {
        // Every draw happens whether or not its effect is on, so turning one option off does not shift the others' random numbers.
        var (top, left, height, width) = CropBox(a, random);
        var flip = random.NextDouble() < 0.5;
        var brightness = 1 + (a.Brightness * ((2 * random.NextDouble()) - 1));
        var contrast = 1 + (a.Contrast * ((2 * random.NextDouble()) - 1));
        var saturation = 1 + (a.Saturation * ((2 * random.NextDouble()) - 1));

        using var scope = NewDisposeScope();
        var x = image;
        if (height != Size || width != Size)
        {
            using var crop = x[TensorIndex.Colon, TensorIndex.Slice(top, top + height), TensorIndex.Slice(left, left + width)].unsqueeze(0);
            x = nn.functional.interpolate(crop, [Size, Size], mode: InterpolationMode.Bilinear, align_corners: false).squeeze(0);
        }

        if (a.HorizontalFlip && flip)
        {
            x = x.flip(2);
        }

        if (a.Brightness > 0)
        {
            x = x * brightness;
        }

        if (a.Contrast > 0)
        {
            var mean = (x * _grey).sum(0L, keepdim: false).mean();
            x = ((x - mean) * contrast) + mean;
        }

        if (a.Saturation > 0)
        {
            var grey = (x * _grey).sum(0L, keepdim: true);
            x = ((x - grey) * saturation) + grey;
        }

        return x.clamp(0, 255).MoveToOuterDisposeScope();
    }

    /// <summary>torchvision's RandomResizedCrop box: area and log aspect ratio drawn, ten tries to fit, else the whole image.</summary>
    private (int Top, int Left, int Height, int Width) CropBox(AugmentationOptions a, Random random)
    {
        var area = (double)Size * Size;
        var logRatio = Math.Log(a.CropMaxAspectRatio);
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var target = area * (a.CropScaleMin + ((a.CropScaleMax - a.CropScaleMin) * random.NextDouble()));
            var ratio = Math.Exp(logRatio * ((2 * random.NextDouble()) - 1));
            var w = (int)Math.Round(Math.Sqrt(target * ratio));
            var h = (int)Math.Round(Math.Sqrt(target / ratio));
            if (w > 0 && h > 0 && w <= Size && h <= Size)
            {
                return (random.Next(0, Size - h + 1), random.Next(0, Size - w + 1), h, w);
            }
        }

        return (0, 0, Size, Size);
    }
}
