namespace PokeClassifier.Training.FineTuning;

/// <summary>
/// The operations of <see cref="AugmentationPolicy.TrivialAugment"/>, in torchvision's <c>TrivialAugmentWide</c> order (one is drawn uniformly).
/// The magnitude each takes (<see cref="ImageTensorizer.ApplyOp"/>) is torchvision's: a shear factor, a translation in pixels, an
/// angle in degrees (counter-clockwise), a factor minus 1 for the enhancements, a number of bits, a threshold; none for the rest.
/// </summary>
internal enum TrivialAugmentOp
{
    Identity,
    ShearX,
    ShearY,
    TranslateX,
    TranslateY,
    Rotate,
    Brightness,
    Color,
    Contrast,
    Sharpness,
    Posterize,
    Solarize,
    AutoContrast,
    Equalize,
}
