using System.Globalization;

namespace PokeClassifier.Training.Custom;

/// <summary>How two training examples are mixed into one (<see cref="MixingOptions"/>).</summary>
public enum MixingKind
{
    /// <summary>
    /// Mixup (Zhang et al. 2018): the whole inputs are blended, <c>x = λ·a + (1 − λ)·b</c>, and the loss is the same blend of the
    /// two labels' losses. Works on any input: images, activation maps, feature vectors.
    /// </summary>
    Mixup,

    /// <summary>
    /// CutMix (Yun et al. 2019): a rectangle of <c>b</c> covering about <c>1 − λ</c> of the area is pasted into <c>a</c>, and the
    /// loss blends the labels by the share of area each kept. Needs spatial inputs <c>[n, channels, height, width]</c> (images or
    /// the activation maps of cached fine-tuning).
    /// </summary>
    CutMix,
}

/// <summary>
/// Mixes the examples of each training batch with those of a shuffled copy of the same batch (mixup or CutMix): a regulariser
/// for long runs that keeps a network from growing over-confident on a few thousand images. Draws for mixing come from the epoch's
/// seeded generator, so a run stays reproducible and a resumed run matches an uninterrupted one. Validation and scoring never mix.
/// </summary>
public sealed class MixingOptions
{
    /// <summary>Mixup or CutMix.</summary>
    /// <value>The default is <see cref="MixingKind.Mixup"/>.</value>
    public MixingKind Kind { get; init; } = MixingKind.Mixup;

    /// <summary>
    /// The mixing weight λ is drawn from Beta(Alpha, Alpha) for each mixed batch: small values keep most examples nearly whole,
    /// 1 draws λ uniformly.
    /// </summary>
    /// <value>The default is 0.2 (mixup's usual value for ImageNet-scale training; CutMix uses 1, see <see cref="CutMix"/>).</value>
    public double Alpha { get; init; } = 0.2;

    /// <summary>The share of batches that are mixed; the others train on plain examples.</summary>
    /// <value>The default is 1 (every batch).</value>
    public double Probability { get; init; } = 1.0;

    /// <summary>Mixup with λ ~ Beta(<paramref name="alpha"/>, <paramref name="alpha"/>) on every batch.</summary>
    /// <param name="alpha">The Beta distribution's parameter; 0.2 by default.</param>
    public static MixingOptions Mixup(double alpha = 0.2) => new() { Kind = MixingKind.Mixup, Alpha = alpha };

    /// <summary>CutMix with λ ~ Beta(<paramref name="alpha"/>, <paramref name="alpha"/>) on every batch.</summary>
    /// <param name="alpha">The Beta distribution's parameter; 1 (λ uniform) by default, as the CutMix paper.</param>
    public static MixingOptions CutMix(double alpha = 1.0) => new() { Kind = MixingKind.CutMix, Alpha = alpha };

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{(Kind == MixingKind.CutMix ? "CutMix" : "mixup")} alpha {Alpha}{(Probability < 1 ? $" on {Probability:0.##} of the batches" : string.Empty)}");

    internal IEnumerable<string> Problems()
    {
        if (!Enum.IsDefined(Kind))
        {
            yield return $"Mixing: {nameof(Kind)} must be Mixup or CutMix (was {(int)Kind}).";
        }

        if (!(Alpha > 0) || double.IsInfinity(Alpha))
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"Mixing: {nameof(Alpha)} must be a positive number (was {Alpha}).");
        }

        if (!(Probability > 0 && Probability <= 1))
        {
            yield return string.Create(CultureInfo.InvariantCulture, $"Mixing: {nameof(Probability)} must be above 0 and at most 1 (was {Probability}).");
        }
    }
}
