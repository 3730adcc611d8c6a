using PokeClassifier.Backbones;
using static TorchSharp.torch;

namespace PokeClassifier.Training.FineTuning;

/// <summary>
/// Turns decoded images into the backbone's input batch with TorchSharp: the augmentation (random resized crop, horizontal flip,
/// colour jitter, then with <see cref="AugmentationPolicy.TrivialAugment"/> one operation of random strength, each drawn from the run's
/// <see cref="Random"/> in a fixed order) on the 0..255 RGB planes, then the backbone's
/// preprocessing with the constants of <see cref="Preprocessor"/> (plane order, scale, offset, mean image).
/// </summary>
internal sealed class ImageTensorizer : IDisposable
{
    private static readonly float[] Luma = [0.299f, 0.587f, 0.114f];

    /// <summary>TrivialAugment Wide's number of magnitude levels (torchvision's <c>num_magnitude_bins</c>).</summary>
    internal const int MagnitudeBins = 31;

    private static readonly TrivialAugmentOp[] Ops = Enum.GetValues<TrivialAugmentOp>();
    private readonly Tensor _planes;
    private readonly Tensor _scale;
    private readonly Tensor _offset;
    private readonly Tensor? _mean;
    private readonly Tensor _grey;
    private readonly Tensor _smooth;

    public ImageTensorizer(ImagePreprocessing preprocessing, int size)
    {
        Size = size;
        var p = new Preprocessor(preprocessing, size, size, resizeMeanImage: true);
        _planes = tensor(p.SourcePlane.Select(i => (long)i).ToArray());
        _scale = tensor(p.Scale.ToArray(), [1, 3, 1, 1]);
        _offset = tensor(p.Offset.ToArray(), [1, 3, 1, 1]);
        _mean = p.MeanImage is { } m ? tensor(m, [1, 3, size, size]) : null;
        _grey = tensor(Luma, [3, 1, 1]);

        // PIL's (and torchvision's) smoothing kernel of ImageEnhance.Sharpness, once per plane.
        using var kernel = tensor(new float[] { 1, 1, 1, 1, 5, 1, 1, 1, 1 }, [1, 1, 3, 3]) / 13f;
        _smooth = kernel.repeat(3, 1, 1, 1);
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
        var plane = 3 * Size * Size;
        var bytes = new byte[indices.Count * plane];
        for (var i = 0; i < indices.Count; i++)
        {
            images.CopyPlanes(indices[i], bytes.AsSpan(i * plane, plane));
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
        _smooth.Dispose();
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

        // The policy's draws come after all of the above and only with the policy, so seeded runs without it are unchanged.
        var trivial = a.Policy == AugmentationPolicy.TrivialAugment;
        var (op, magnitude) = trivial ? DrawOp(random, Size) : (TrivialAugmentOp.Identity, 0.0);

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

        if (trivial)
        {
            x = ApplyOp(x.clamp(0, 255), op, magnitude);
        }

        return x.clamp(0, 255).MoveToOuterDisposeScope();
    }

    /// <summary>One TrivialAugment Wide draw: the operation, its level (of <see cref="MagnitudeBins"/>) and its sign, always all three.</summary>
    internal static (TrivialAugmentOp Op, double Magnitude) DrawOp(Random random, int size)
    {
        var op = Ops[random.Next(Ops.Length)];
        var level = random.Next(MagnitudeBins);
        var sign = random.Next(2) == 1 ? -1.0 : 1.0;
        return (op, Magnitude(op, level, size) * (IsSigned(op) ? sign : 1));
    }

    /// <summary>torchvision's <c>TrivialAugmentWide</c> magnitude at <paramref name="level"/>, the translation in proportion to <paramref name="size"/> (32 px at 224).</summary>
    internal static double Magnitude(TrivialAugmentOp op, int level, int size)
    {
        var t = level / (double)(MagnitudeBins - 1);
        return op switch
        {
            TrivialAugmentOp.ShearX or TrivialAugmentOp.ShearY => 0.99 * t,
            TrivialAugmentOp.TranslateX or TrivialAugmentOp.TranslateY => 32.0 / 224 * size * t,
            TrivialAugmentOp.Rotate => 135 * t,
            TrivialAugmentOp.Brightness or TrivialAugmentOp.Color or TrivialAugmentOp.Contrast or TrivialAugmentOp.Sharpness => 0.99 * t,
            TrivialAugmentOp.Posterize => 8 - Math.Round(level / ((MagnitudeBins - 1) / 6.0)),
            TrivialAugmentOp.Solarize => 255 * (1 - t),
            _ => 0,
        };
    }

    private static bool IsSigned(TrivialAugmentOp op) =>
        op is TrivialAugmentOp.ShearX or TrivialAugmentOp.ShearY or TrivialAugmentOp.TranslateX or TrivialAugmentOp.TranslateY or TrivialAugmentOp.Rotate
            or TrivialAugmentOp.Brightness or TrivialAugmentOp.Color or TrivialAugmentOp.Contrast or TrivialAugmentOp.Sharpness;

    /// <summary>
    /// One TrivialAugment operation on an image [3, Size, Size] of 0..255 planes, with torchvision's meaning of <paramref name="magnitude"/>
    /// (<see cref="TrivialAugmentOp"/>); the result is a new tensor of the same shape, clamped to 0..255. Geometric operations sample
    /// bilinearly and fill with white.
    /// </summary>
    internal Tensor ApplyOp(Tensor image, TrivialAugmentOp op, double magnitude)
    {
        using var scope = NewDisposeScope();
        var x = image;
        var m = (float)magnitude;
        var result = op switch
        {
            TrivialAugmentOp.Identity => x.alias(),

            // Shears about the top-left corner as torchvision: output (x, y) comes from input (x + m y, y), in pixels.
            TrivialAugmentOp.ShearX => Affine(x, [1, m, m, 0, 1, 0]),
            TrivialAugmentOp.ShearY => Affine(x, [1, 0, 0, m, 1, m]),
            TrivialAugmentOp.TranslateX => Affine(x, [1, 0, -2 * m / Size, 0, 1, 0]),
            TrivialAugmentOp.TranslateY => Affine(x, [1, 0, 0, 0, 1, -2 * m / Size]),
            TrivialAugmentOp.Rotate => Affine(x, Rotation(magnitude)),
            TrivialAugmentOp.Brightness => x * (1 + m),
            TrivialAugmentOp.Color => Blend(x, (x * _grey).sum(0L, keepdim: true), 1 + m),
            TrivialAugmentOp.Contrast => Blend(x, (x * _grey).sum(0L, keepdim: false).mean(), 1 + m),
            TrivialAugmentOp.Sharpness => Blend(x, Smoothed(x), 1 + m),
            TrivialAugmentOp.Posterize => magnitude >= 8 ? x.alias() : Posterize(x, Math.Max(0, (int)magnitude)),

            // Pixels above the threshold are inverted: 255 (the first level) leaves the image as it is.
            TrivialAugmentOp.Solarize => where(x > m, 255 - x, x),
            TrivialAugmentOp.AutoContrast => AutoContrast(x),
            TrivialAugmentOp.Equalize => Equalize(x),
            _ => throw new ArgumentOutOfRangeException(nameof(op), op, "Unknown TrivialAugment operation."),
        };

        return result.clamp(0, 255).MoveToOuterDisposeScope();
    }

    private static float[] Rotation(double degrees)
    {
        // Counter-clockwise as torchvision, about the centre: output (u, v) comes from input (u cos - v sin, u sin + v cos), y down.
        var r = degrees * Math.PI / 180;
        var (cos, sin) = ((float)Math.Cos(r), (float)Math.Sin(r));
        return [cos, -sin, 0, sin, cos, 0];
    }

    /// <summary>Samples the image where <paramref name="theta"/> (output to input, normalised coordinates) says; what lies outside is white.</summary>
    private Tensor Affine(Tensor x, float[] theta)
    {
        var grid = nn.functional.affine_grid(tensor(theta, [1, 2, 3]), [1, 3, Size, Size], align_corners: false);

        // Sampling x − 255 with zero padding and adding 255 back fills with white.
        var sampled = nn.functional.grid_sample((x - 255).unsqueeze(0), grid, GridSampleMode.Bilinear, GridSamplePaddingMode.Zeros, align_corners: false);
        return sampled.squeeze(0) + 255;
    }

    /// <summary>torchvision's blend: <paramref name="factor"/> of the image, the rest of <paramref name="degenerate"/> (factor 1 is the image).</summary>
    private static Tensor Blend(Tensor x, Tensor degenerate, float factor) => degenerate + ((x - degenerate) * factor);

    /// <summary>The image smoothed by PIL's 3 x 3 kernel inside, its border pixels as they are (torchvision's <c>adjust_sharpness</c>).</summary>
    private Tensor Smoothed(Tensor x)
    {
        var smoothed = x.clone();
        if (Size > 2)
        {
            var inner = nn.functional.conv2d(x.unsqueeze(0), _smooth, groups: 3).squeeze(0);
            smoothed[TensorIndex.Colon, TensorIndex.Slice(1, -1), TensorIndex.Slice(1, -1)] = inner;
        }

        return smoothed;
    }

    /// <summary>Keeps the top <paramref name="bits"/> bits of each value (the values floored to a multiple of 2^(8 − bits)).</summary>
    private static Tensor Posterize(Tensor x, int bits)
    {
        var quantum = (float)(1 << (8 - bits));
        return (x / quantum).floor() * quantum;
    }

    /// <summary>Each plane stretched from its minimum and maximum to 0..255; a flat plane stays as it is.</summary>
    private static Tensor AutoContrast(Tensor x)
    {
        var flat = x.reshape(3, -1);
        var low = flat.amin([1], keepdim: true).reshape(3, 1, 1);
        var high = flat.amax([1], keepdim: true).reshape(3, 1, 1);
        var flatPlane = high <= low;
        var scale = where(flatPlane, ones_like(high), 255 / (high - low));
        var offset = where(flatPlane, zeros_like(low), low);
        return (x - offset) * scale;
    }

    /// <summary>
    /// Each plane's histogram equalised as torchvision's <c>equalize</c> (PIL's <c>ImageOps.equalize</c>) on the values rounded to
    /// integers; a plane whose values all but fill one level stays as it is.
    /// </summary>
    private Tensor Equalize(Tensor x)
    {
        var levels = x.round().clamp(0, 255).to_type(ScalarType.Int64);
        var planes = new Tensor[3];
        for (var c = 0; c < 3; c++)
        {
            var values = levels[c].flatten();
            var histogram = values.bincount(null, 256);
            var top = values.max().item<long>();
            var step = (values.shape[0] - histogram[top].item<long>()) / 255;
            if (step == 0)
            {
                planes[c] = x[c];
                continue;
            }

            var lut = ((histogram.cumsum(0).to_type(ScalarType.Float64) + (step / 2)) / step).floor();
            lut = cat([zeros(1, ScalarType.Float64), lut[TensorIndex.Slice(0, 255)]], 0).clamp(0, 255);
            planes[c] = lut.index_select(0, values).reshape(Size, Size).to_type(ScalarType.Float32);
        }

        return stack(planes);
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
