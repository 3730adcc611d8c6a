namespace PokeClassifier.Training.FineTuning;

/// <summary>
/// On-the-fly augmentation of training images while fine-tuning, drawn from the run's seed (one seed, the same images every run):
/// a random resized crop, a horizontal flip and a colour jitter, applied in that order to the decoded image at the input size,
/// then, with <see cref="Policy"/> <see cref="AugmentationPolicy.TrivialAugment"/>, one randomly chosen operation of random strength.
/// Validation and test images are never augmented.
/// </summary>
public sealed record AugmentationOptions
{
    /// <summary>The smallest area of a random crop, as a fraction of the image (torchvision's <c>RandomResizedCrop</c> scale).</summary>
    /// <value>The default is 0.6 (sprites fill most of their frame; torchvision's 0.08 would often cut the Pokémon away).</value>
    public double CropScaleMin { get; init; } = 0.6;

    /// <summary>The largest area of a random crop, as a fraction of the image.</summary>
    /// <value>The default is 1.0.</value>
    public double CropScaleMax { get; init; } = 1.0;

    /// <summary>The range of the crop's aspect ratio (width / height) is [1 / this, this], sampled log-uniformly.</summary>
    /// <value>The default is 4/3, as torchvision.</value>
    public double CropMaxAspectRatio { get; init; } = 4.0 / 3.0;

    /// <summary>Whether half of the images are mirrored left to right.</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool HorizontalFlip { get; init; } = true;

    /// <summary>Brightness jitter: pixels are multiplied by a factor drawn from [1 − this, 1 + this]; 0 turns it off.</summary>
    /// <value>The default is 0.2.</value>
    public double Brightness { get; init; } = 0.2;

    /// <summary>Contrast jitter: pixels move away from (or toward) the image's mean grey by a factor from [1 − this, 1 + this]; 0 turns it off.</summary>
    /// <value>The default is 0.2.</value>
    public double Contrast { get; init; } = 0.2;

    /// <summary>Saturation jitter: pixels move away from (or toward) their own grey by a factor from [1 − this, 1 + this]; 0 turns it off.</summary>
    /// <value>The default is 0.2.</value>
    public double Saturation { get; init; } = 0.2;

    /// <summary>
    /// The policy applied after the crop, flip and jitter: <see cref="AugmentationPolicy.TrivialAugment"/> adds one operation of random
    /// strength per image. Its random numbers are drawn after the others', so turning it on leaves the crops, flips and jitters of a seed as they were.
    /// </summary>
    /// <value>The default is <see cref="AugmentationPolicy.None"/>.</value>
    public AugmentationPolicy Policy { get; init; } = AugmentationPolicy.None;

    /// <summary>The defaults: crops of 60-100 % of the area, flips, ±20 % brightness, contrast and saturation.</summary>
    public static AugmentationOptions Default { get; } = new();

    /// <summary>Whether any augmentation is on.</summary>
    public bool IsEnabled => CropScaleMin < 1 || HorizontalFlip || Brightness > 0 || Contrast > 0 || Saturation > 0 || Policy != AugmentationPolicy.None;

    /// <summary>Checks every option and throws one <see cref="ArgumentException"/> listing every problem.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        if (!(CropScaleMin > 0 && CropScaleMin <= CropScaleMax && CropScaleMax <= 1))
        {
            errors.Add($"The crop scale range must satisfy 0 < {nameof(CropScaleMin)} <= {nameof(CropScaleMax)} <= 1 (was {CropScaleMin} to {CropScaleMax}).");
        }

        if (!(CropMaxAspectRatio >= 1 && double.IsFinite(CropMaxAspectRatio)))
        {
            errors.Add($"{nameof(CropMaxAspectRatio)} must be at least 1 (was {CropMaxAspectRatio}).");
        }

        foreach (var (name, value) in new[] { (nameof(Brightness), Brightness), (nameof(Contrast), Contrast), (nameof(Saturation), Saturation) })
        {
            if (!(value >= 0 && value < 1))
            {
                errors.Add($"{name} must be in [0, 1) (was {value}).");
            }
        }

        if (!Enum.IsDefined(Policy))
        {
            errors.Add($"{nameof(Policy)} must be {string.Join(" or ", Enum.GetNames<AugmentationPolicy>())} (was {(int)Policy}).");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid augmentation options: " + string.Join(" ", errors));
        }
    }
}
