using PokeClassifier.Backbones;
using PokeClassifier.Training.Custom;

namespace PokeClassifier.Training;

/// <summary>
/// A trained head over backbone features, whichever path trained it (<see cref="MLNetHead"/>, or the TorchSharp package's <c>TorchHead</c>):
/// what <see cref="TrainedClassifier"/> needs to predict, evaluate and save. Thread-safe for scoring.
/// </summary>
internal interface IClassifierHead : IDisposable
{
    /// <summary>The training path that made it (<c>ML.NET</c>, <c>TorchSharp</c>); also the manifest's head kind.</summary>
    string Kind { get; }

    /// <summary>The class labels, in the order of probability vectors.</summary>
    IReadOnlyList<string> Classes { get; }

    /// <summary>The backbone's feature output shape, batch dimension included (as the featurizer reports it).</summary>
    int[] FeatureShape { get; }

    /// <summary>The training history, for heads trained in epochs; <see langword="null"/> otherwise.</summary>
    TrainingSummary? Training { get; }

    /// <summary>Class probabilities for each feature vector (each sums to 1).</summary>
    float[][] Score(IReadOnlyList<float[]> features);

    /// <summary>Writes the complete model file at <paramref name="path"/> (a new file): the head's own entries and the manifest.</summary>
    /// <param name="path">The file to create.</param>
    /// <param name="backbone">The backbone (the ML.NET path embeds its ONNX graph).</param>
    /// <param name="manifest">The manifest's common part; the head adds its own fields.</param>
    void Save(string path, BackboneSpec backbone, SavedManifest manifest);
}
