using System.Globalization;
using static TorchSharp.torch;

namespace PokeClassifier.Training.Custom;

/// <summary>One mixed batch: the inputs, which example each was mixed with, and the weight λ of the examples' own labels.</summary>
/// <param name="Inputs">The mixed inputs, same shape as the batch.</param>
/// <param name="Partners">[n] (int64) the row of the batch each example was mixed with.</param>
/// <param name="Lambda">The share of each example that is its own (after CutMix, the share of area it kept).</param>
internal sealed record MixedBatch(Tensor Inputs, Tensor Partners, double Lambda);

/// <summary>Mixup and CutMix of a training batch with a shuffled copy of itself (<see cref="MixingOptions"/>).</summary>
internal static class BatchMixer
{
    /// <summary>
    /// Mixes the batch, or returns <see langword="null"/> when this batch is left plain (<see cref="MixingOptions.Probability"/>).
    /// Every call draws the same count of numbers from <paramref name="random"/> for a batch of a given size, mixed or not.
    /// </summary>
    public static MixedBatch? Mix(MixingOptions options, Tensor inputs, Random random)
    {
        var mixThis = random.NextDouble() < options.Probability;
        var lambda = Beta(random, options.Alpha);
        var order = TorchTrainer.Permutation(checked((int)inputs.shape[0]), random).Select(i => (long)i).ToArray();
        var centre = (Y: random.NextDouble(), X: random.NextDouble());
        if (!mixThis)
        {
            return null;
        }

        var partners = tensor(order, device: inputs.device);
        using var shuffled = inputs.index_select(0, partners);
        if (options.Kind == MixingKind.Mixup)
        {
            return new MixedBatch((inputs * lambda) + (shuffled * (1 - lambda)), partners, lambda);
        }

        if (inputs.dim() != 4)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"CutMix pastes rectangles of spatial inputs [n, channels, height, width]; this run trains on inputs of shape [{string.Join(", ", inputs.shape)}] (features, not images or activation maps): use mixup (MixingOptions.Mixup) instead."));
        }

        var (height, width) = (inputs.shape[2], inputs.shape[3]);
        var (top, bottom, left, right) = Box(height, width, lambda, centre.Y, centre.X);
        var mixed = inputs.clone();
        if (bottom > top && right > left)
        {
            using var patch = shuffled[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(top, bottom), TensorIndex.Slice(left, right)];
            using var target = mixed[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(top, bottom), TensorIndex.Slice(left, right)];
            target.copy_(patch);
        }

        var kept = 1 - ((double)(bottom - top) * (right - left) / (height * width));
        return new MixedBatch(mixed, partners, kept);
    }

    /// <summary>
    /// The CutMix rectangle: sides <c>sqrt(1 − λ)</c> of the input's, centred at a uniform point, clipped to the input (so the pasted
    /// area may be smaller than <c>1 − λ</c>; the loss uses the area actually pasted).
    /// </summary>
    internal static (long Top, long Bottom, long Left, long Right) Box(long height, long width, double lambda, double centreY, double centreX)
    {
        var side = Math.Sqrt(1 - lambda);
        var (h, w) = ((long)(height * side), (long)(width * side));
        var (cy, cx) = ((long)(centreY * height), (long)(centreX * width));
        return (Math.Clamp(cy - (h / 2), 0, height), Math.Clamp(cy + (h / 2), 0, height), Math.Clamp(cx - (w / 2), 0, width), Math.Clamp(cx + (w / 2), 0, width));
    }

    /// <summary>A draw from Beta(alpha, alpha): X / (X + Y) with X, Y ~ Gamma(alpha, 1).</summary>
    internal static double Beta(Random random, double alpha)
    {
        var x = Gamma(random, alpha);
        var y = Gamma(random, alpha);
        return x + y > 0 ? x / (x + y) : 0.5;
    }

    /// <summary>Marsaglia and Tsang's Gamma(shape, 1) sampler; shapes below 1 through Gamma(shape + 1) x U^(1 / shape).</summary>
    internal static double Gamma(Random random, double shape)
    {
        if (shape < 1)
        {
            var u = 1 - random.NextDouble();
            return Gamma(random, shape + 1) * Math.Pow(u, 1 / shape);
        }

        var d = shape - (1.0 / 3);
        var c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = Normal(random);
                v = 1 + (c * x);
            }
            while (v <= 0);

            v = v * v * v;
            var uniform = 1 - random.NextDouble();
            if (Math.Log(uniform) < (0.5 * x * x) + d - (d * v) + (d * Math.Log(v)))
            {
                return d * v;
            }
        }
    }

    private static double Normal(Random random)
    {
        var u1 = 1 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
