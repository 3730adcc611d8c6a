using System.Collections.ObjectModel;
using System.Globalization;
using System.Text;

namespace PokeClassifier.Evaluation;

/// <summary>
/// The images a model got wrong, grouped by true class with the most confidently wrong first, and the
/// pairs of classes it confuses most. Immutable and thread-safe.
/// </summary>
public sealed class ErrorReport
{
    private const int MaxLabelWidth = 24;
    private const int MaxPathWidth = 40;

    /// <summary>Initializes a new instance of the <see cref="ErrorReport"/> class from a set of misclassified images.</summary>
    /// <param name="misclassified">
    /// The misclassified images, in any order. <see cref="ByClass"/> enumerates true labels in the order they first
    /// appear here (<see cref="Evaluator.ComputeErrors"/> passes them in class-list order).
    /// </param>
    /// <exception cref="ArgumentException">An image is null, has a null label, or its true and predicted labels are equal.</exception>
    public ErrorReport(IEnumerable<MisclassifiedImage> misclassified)
    {
        ArgumentNullException.ThrowIfNull(misclassified);
        var images = misclassified.ToArray();
        for (var i = 0; i < images.Length; i++)
        {
            var image = images[i] ?? throw new ArgumentException($"The image at index {i} is null.", nameof(misclassified));
            if (image.TrueLabel is null || image.PredictedLabel is null)
            {
                throw new ArgumentException($"The image at index {i} ('{image.Path}') has a null label.", nameof(misclassified));
            }

            if (string.Equals(image.TrueLabel, image.PredictedLabel, StringComparison.Ordinal))
            {
                throw new ArgumentException(
                    $"The image at index {i} ('{image.Path}') is not misclassified: its true and predicted label are both '{image.TrueLabel}'.",
                    nameof(misclassified));
            }
        }

        All = Array.AsReadOnly(MostConfidentFirst(images));

        var byClass = new OrderedDictionary<string, IReadOnlyList<MisclassifiedImage>>(StringComparer.Ordinal);
        foreach (var group in images.GroupBy(image => image.TrueLabel, StringComparer.Ordinal))
        {
            byClass.Add(group.Key, Array.AsReadOnly(MostConfidentFirst(group)));
        }

        ByClass = new ReadOnlyDictionary<string, IReadOnlyList<MisclassifiedImage>>(byClass);

        MostConfusedPairs = Array.AsReadOnly(images
            .GroupBy(image => (image.TrueLabel, image.PredictedLabel))
            .Select(group => new ConfusedPair { TrueLabel = group.Key.TrueLabel, PredictedLabel = group.Key.PredictedLabel, Count = group.Count() })
            .OrderByDescending(pair => pair.Count)
            .ThenBy(pair => pair.TrueLabel, StringComparer.Ordinal)
            .ThenBy(pair => pair.PredictedLabel, StringComparer.Ordinal)
            .ToArray());
    }

    /// <summary>
    /// Gets the misclassified images keyed by true label, for every class with at least one error. Each list is
    /// sorted by <see cref="MisclassifiedImage.PredictedProbability"/> descending (most confidently wrong first),
    /// ties by path (ordinal).
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<MisclassifiedImage>> ByClass { get; }

    /// <summary>
    /// Gets every misclassified image, most confidently wrong first (by <see cref="MisclassifiedImage.PredictedProbability"/>
    /// descending, ties by path, ordinal).
    /// </summary>
    public IReadOnlyList<MisclassifiedImage> All { get; }

    /// <summary>
    /// Gets the directed (true, predicted) pairs that occur among the errors, ranked by count descending, then
    /// by true label, then by predicted label (ordinal).
    /// </summary>
    public IReadOnlyList<ConfusedPair> MostConfusedPairs { get; }

    /// <summary>Renders the most confused pairs and a per-class summary of errors as fixed-width text.</summary>
    /// <param name="maxPairs">The most confused pairs to list. The default is 10.</param>
    /// <returns>The report as plain text, ending in a new line.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxPairs"/> is negative.</exception>
    public string ToTable(int maxPairs = 10)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxPairs);
        var builder = new StringBuilder();
        if (All.Count == 0)
        {
            builder.AppendLine("No misclassified images.");
            return builder.ToString();
        }

        builder.AppendLine(CultureInfo.InvariantCulture, $"Misclassified: {TextTable.Integer(All.Count)} image(s) in {TextTable.Integer(ByClass.Count)} class(es)");
        builder.AppendLine();
        builder.AppendLine("Most confused pairs (true -> predicted)");
        var pairRows = MostConfusedPairs
            .Take(maxPairs)
            .Select(pair => new[] { Fit(pair.TrueLabel), Fit(pair.PredictedLabel), TextTable.Integer(pair.Count) })
            .ToArray();
        TextTable.Append(builder, ["True", "Predicted", "Count"], pairRows, alignment: "LLR");
        if (MostConfusedPairs.Count > pairRows.Length)
        {
            builder.AppendLine(CultureInfo.InvariantCulture, $"({TextTable.Integer(MostConfusedPairs.Count - pairRows.Length)} more pair(s) not shown)");
        }

        builder.AppendLine();
        builder.AppendLine("Errors by true class (most confidently wrong image shown)");
        var classRows = ByClass
            .Select(entry =>
            {
                var worst = entry.Value[0];
                return new[]
                {
                    Fit(entry.Key),
                    TextTable.Integer(entry.Value.Count),
                    TextTable.FitEnd(worst.Path ?? string.Empty, MaxPathWidth),
                    Fit(worst.PredictedLabel),
                    TextTable.Number(worst.PredictedProbability),
                    TextTable.Number(worst.TrueLabelProbability),
                };
            })
            .ToArray();
        TextTable.Append(builder, ["True", "Errors", "Worst image", "Predicted", "P(pred)", "P(true)"], classRows, alignment: "LRLLRR");
        return builder.ToString();
    }

    /// <summary>Returns the same text as <see cref="ToTable(int)"/> with the default number of pairs.</summary>
    /// <returns>The report as plain text.</returns>
    public override string ToString() => ToTable();

    private static string Fit(string label) => TextTable.FitStart(label, MaxLabelWidth);

    private static MisclassifiedImage[] MostConfidentFirst(IEnumerable<MisclassifiedImage> images) =>
        images
            .OrderByDescending(image => image.PredictedProbability)
            .ThenBy(image => image.Path, StringComparer.Ordinal)
            .ToArray();
}
