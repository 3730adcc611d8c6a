namespace PokeClassifier.Backbones;

/// <summary>
/// The two ImageNet preprocessing conventions, named as Keras names them in <c>preprocess_input(mode=...)</c>. They follow from where
/// the weights come from: torchvision (all models) and Keras DenseNet use <see cref="Torch"/>; Keras VGG16 and ResNet50 use <see cref="Caffe"/>.
/// </summary>
public enum PreprocessingMode
{
    /// <summary>RGB in [0, 1], minus the ImageNet mean (0.485, 0.456, 0.406), divided by the std (0.229, 0.224, 0.225): <see cref="ImagePreprocessing.TorchImageNet"/>.</summary>
    Torch,

    /// <summary>BGR in 0..255 minus 103.939 / 116.779 / 123.68: <see cref="ImagePreprocessing.CaffeImageNet"/>.</summary>
    Caffe,
}
