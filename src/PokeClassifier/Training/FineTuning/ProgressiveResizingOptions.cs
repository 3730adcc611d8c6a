using System.Globalization;

namespace PokeClassifier.Training.FineTuning;

/// <summary>
/// Progressive resizing (fastai's recipe): the first epochs of whole-image fine-tuning train on smaller inputs, which cost about
/// the square of the size ratio, and the size grows to <see cref="FineTuneOptions.InputSize"/> for the rest of the run, so the
/// network ends on the size it is scored at. The images are decoded once at the full size; a smaller epoch shrinks each
/// (augmented) batch by area averaging. Validation and the resulting classifier always use the full size.
/// </summary>
/// <remarks>
/// The frozen part's output changes with the size, so its activations cannot be computed once: like augmentation, progressive
/// resizing trains through the whole network on every step (<see cref="FineTuneOptions.CacheFrozenActivations"/> is ignored).
/// </remarks>
public sealed class ProgressiveResizingOptions
{
    /// <summary>
    /// The first epoch's size as a share of the full input size, rounded down to a multiple of 32 (at least 64, at most the full
    /// size).
    /// </summary>
    /// <value>The default is 0.5 (112 becomes 96 from a full 224; 128 stays 64).</value>
    public double StartScale { get; init; } = 0.5;

    /// <summary>
    /// The share of the epochs over which the size grows, in equal steps from the start size (the first epoch) to the full size (the
    /// last of these epochs); the epochs after them train at the full size too.
    /// </summary>
    /// <value>The default is 0.5 (10 epochs at 224: 96, 128, 160, 192, then 224 from the fifth epoch on).</value>
    public double GrowFraction { get; init; } = 0.5;

    /// <summary>The input size of epoch <paramref name="epoch"/> (from 1) of <paramref name="epochs"/> at full size <paramref name="fullSize"/>.</summary>
    /// <param name="epoch">The epoch, from 1.</param>
    /// <param name="epochs">The run's epochs.</param>
    /// <param name="fullSize">The full input size (a multiple of 32).</param>
    /// <returns>A multiple of 32 from the start size to <paramref name="fullSize"/>, never decreasing with the epoch.</returns>
    public int SizeAt(int epoch, int epochs, int fullSize)
    {
        var start = StartSize(fullSize);
        var growing = (int)Math.Floor(GrowFraction * epochs);
        if (growing <= 0 || epoch > growing)
        {
            return fullSize;
        }

        if (growing == 1)
        {
            return start;
        }

        // Epochs 1..growing step from the start size (epoch 1) to the full size (epoch growing), rounded down to multiples of 32.
        var size = start + ((fullSize - start) * (double)(epoch - 1) / (growing - 1));
        return Math.Clamp((int)(Math.Floor((size + 1e-9) / 32) * 32), start, fullSize);
    }

    /// <summary>The first epoch's size for a full size of <paramref name="fullSize"/>.</summary>
    /// <param name="fullSize">The full input size.</param>
    public int StartSize(int fullSize) => Math.Min(fullSize, Math.Max(64, (int)Math.Floor(StartScale * fullSize / 32) * 32));

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"progressive resizing from {StartScale:0.##} over {GrowFraction:0.##} of the run");

    internal IEnumerable<string> Problems()
    {
        if (!(StartScale > 0 && StartScale <= 1))
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"ProgressiveResizing: {nameof(StartScale)} must be above 0 and at most 1 (was {StartScale}).");
        }

        if (!(GrowFraction >= 0 && GrowFraction <= 1))
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"ProgressiveResizing: {nameof(GrowFraction)} must be from 0 to 1 (was {GrowFraction}).");
        }
    }
}
