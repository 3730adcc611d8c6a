namespace PokeClassifier.Backbones;

/// <summary>An architecture's published ImageNet weights: the file, its checksum and URL, and what the network expects and yields.</summary>
internal sealed record PretrainedWeights
{
    private const string TorchvisionBase = "https://download.pytorch.org/models/";
    private const string KerasBase = "https://storage.googleapis.com/tensorflow/keras-applications/";

    /// <summary>Display name, for example <c>DenseNet201</c> or <c>VGG16 (Keras)</c>.</summary>
    public required string DisplayName { get; init; }

    /// <summary>The file, with its URL and checksum.</summary>
    public required WeightSource Source { get; init; }

    /// <summary>How pixels become the input the weights were trained on.</summary>
    public required ImagePreprocessing Preprocessing { get; init; }

    /// <summary>The feature shape (batch excluded) at a square input size.</summary>
    public required Func<int, int[]> FeatureShape { get; init; }

    /// <summary>
    /// torchvision's file: <c>https://download.pytorch.org/models/{file}</c>, whose name carries the first 8 hex digits of its
    /// SHA-256, checked as <c>torch.hub</c> checks them.
    /// </summary>
    public static PretrainedWeights Torchvision(string displayName, string file, Func<int, int[]> featureShape)
    {
        var architecture = file[..file.IndexOf('-', StringComparison.Ordinal)];
        return new PretrainedWeights
        {
            DisplayName = displayName,
            Preprocessing = ImagePreprocessing.TorchImageNet,
            FeatureShape = featureShape,
            Source = new WeightSource
            {
                Url = new Uri(TorchvisionBase + file),
                FileName = file,
                Sha256 = file[(file.LastIndexOf('-') + 1)..file.IndexOf('.', StringComparison.Ordinal)],
                Format = WeightFormat.TorchPth,
                HowToProduce = $"python -c \"import torchvision; torchvision.models.{architecture}(weights='IMAGENET1K_V1')\" downloads it to ~/.cache/torch/hub/checkpoints/{file}; copy it into the folder above or pass its path.",
            },
        };
    }

    /// <summary>A Keras applications file: <c>https://storage.googleapis.com/tensorflow/keras-applications/{folder}{file}</c>, checked against the MD5 that Keras' <c>get_file(file_hash=...)</c> checks.</summary>
    public static PretrainedWeights Keras(string displayName, string file, string folder, string md5, ImagePreprocessing preprocessing, string keras, Func<int, int[]> featureShape) => new()
    {
        DisplayName = displayName,
        Preprocessing = preprocessing,
        FeatureShape = featureShape,
        Source = new WeightSource
        {
            Url = new Uri(KerasBase + folder + file),
            FileName = file,
            Md5 = md5,
            Format = WeightFormat.KerasH5,
            HowToProduce = $"python -c \"import tensorflow as tf; {keras}\" downloads it to ~/.keras/models/{file}; copy it into the folder above or pass its path.",
        },
    };
}
