namespace PokeClassifier.Training;

/// <summary>
/// Options of <see cref="TrainedClassifier.ExportOnnx(string, OnnxExportOptions?)"/>: the names of the exported model's input and
/// outputs. The input contract itself is fixed (see <c>docs/onnx-export.md</c>): float32 <c>[batch, 3, H, W]</c>, RGB planes,
/// pixel values 0..255, the image already resized to the backbone's input size.
/// </summary>
public sealed class OnnxExportOptions
{
    /// <summary>Name of the image input.</summary>
    /// <value>The default is <c>pixels</c>.</value>
    public string InputName { get; init; } = "pixels";

    /// <summary>Name of the class-probability output, float32 <c>[batch, classes]</c> in <see cref="TrainedClassifier.Classes"/> order.</summary>
    /// <value>The default is <c>probabilities</c>.</value>
    public string ProbabilitiesName { get; init; } = "probabilities";

    /// <summary>
    /// Name of the predicted-label output, a string tensor <c>[batch]</c> (ArgMax, then an <c>ai.onnx.ml</c> LabelEncoder from class
    /// index to label); <see langword="null"/> to leave it out, for runtimes without the <c>ai.onnx.ml</c> domain.
    /// </summary>
    /// <value>The default is <c>label</c>.</value>
    public string? LabelName { get; init; } = "label";

    /// <summary>Checks every option and throws one <see cref="ArgumentException"/> listing every problem.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(InputName))
        {
            errors.Add($"{nameof(InputName)} must not be empty.");
        }

        if (string.IsNullOrWhiteSpace(ProbabilitiesName))
        {
            errors.Add($"{nameof(ProbabilitiesName)} must not be empty.");
        }

        if (LabelName is { } label && string.IsNullOrWhiteSpace(label))
        {
            errors.Add($"{nameof(LabelName)} must be null or a name.");
        }

        var names = new[] { InputName, ProbabilitiesName, LabelName }.Where(n => !string.IsNullOrWhiteSpace(n)).ToArray();
        if (names.Distinct(StringComparer.Ordinal).Count() != names.Length)
        {
            errors.Add($"The input and output names must differ (were {string.Join(", ", names)}).");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid ONNX export options: " + string.Join(" ", errors));
        }
    }
}
