namespace PokeClassifier.Training.FineTuning;

/// <summary>An augmentation policy applied after the crop, flip and colour jitter of <see cref="AugmentationOptions"/>.</summary>
public enum AugmentationPolicy
{
    /// <summary>No policy: the crop, flip and colour jitter only.</summary>
    None = 0,

    /// <summary>
    /// TrivialAugment Wide (Müller and Hutter, 2021; torchvision's <c>TrivialAugmentWide</c>): each training image gets one operation,
    /// drawn uniformly from Identity, ShearX, ShearY, TranslateX, TranslateY, Rotate, Brightness, Color (saturation), Contrast,
    /// Sharpness, Posterize, Solarize, AutoContrast and Equalize, at a strength drawn uniformly from 31 levels between none and the
    /// widest: shear up to 0.99, translation up to a seventh of the side (32 px at 224 px), rotation up to 135°, brightness, colour,
    /// contrast and sharpness factors of 1 ± 0.99, posterize to 8 down to 2 bits, solarize above a threshold from 255 down to 0; shears,
    /// translations, rotations and the enhancement factors take a random sign. Geometric operations resample bilinearly and fill
    /// what comes from outside the image with white, the background images are flattened onto.
    /// </summary>
    TrivialAugment = 1,
}
