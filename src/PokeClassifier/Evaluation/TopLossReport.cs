using System.Globalization;
using System.Text;

namespace PokeClassifier.Evaluation;

/// <summary>
/// fastai's top losses, both ways: the most confident errors (wrong, and sure of it) and the least confident correct predictions
/// (right, but barely). The first finds mislabelled images and look-alike classes; the second, images the model only guesses at.
/// Built by <see cref="Evaluator.ComputeTopLosses"/> from existing predictions. Immutable and thread-safe.
/// </summary>
public sealed class TopLossReport
{
    /// <summary>Initializes a new instance of the <see cref="TopLossReport"/> class from images already chosen and ordered.</summary>
    /// <param name="mostConfidentErrors">Misclassified images, in the order to show.</param>
    /// <param name="leastConfidentCorrect">Correctly classified images, in the order to show.</param>
    /// <param name="errorCount">How many images were misclassified in all.</param>
    /// <param name="correctCount">How many images were classified correctly in all.</param>
    /// <exception cref="ArgumentException">A list holds a null entry, a correct image among the errors or an error among the correct ones, or a count is smaller than its list.</exception>
    public TopLossReport(IEnumerable<TopLossImage> mostConfidentErrors, IEnumerable<TopLossImage> leastConfidentCorrect, int errorCount, int correctCount)
    {
        ArgumentNullException.ThrowIfNull(mostConfidentErrors);
        ArgumentNullException.ThrowIfNull(leastConfidentCorrect);
        var errors = mostConfidentErrors.ToArray();
        var correct = leastConfidentCorrect.ToArray();
        if (errors.Any(e => e is null || e.IsCorrect))
        {
            throw new ArgumentException("The most confident errors must all be misclassified images (none null).", nameof(mostConfidentErrors));
        }

        if (correct.Any(e => e is null || !e.IsCorrect))
        {
            throw new ArgumentException("The least confident correct predictions must all be correct (none null).", nameof(leastConfidentCorrect));
        }

        if (errorCount < errors.Length || correctCount < correct.Length)
        {
            throw new ArgumentException($"The counts ({errorCount} errors, {correctCount} correct) cannot be smaller than the lists ({errors.Length}, {correct.Length}).", nameof(errorCount));
        }

        MostConfidentErrors = Array.AsReadOnly(errors);
        LeastConfidentCorrect = Array.AsReadOnly(correct);
        ErrorCount = errorCount;
        CorrectCount = correctCount;
    }

    /// <summary>
    /// Gets the misclassified images the model was surest of: by <see cref="TopLossImage.PredictedProbability"/> descending, then by
    /// <see cref="TopLossImage.TrueLabelProbability"/> ascending (the larger loss first), then by path (ordinal).
    /// </summary>
    public IReadOnlyList<TopLossImage> MostConfidentErrors { get; }

    /// <summary>
    /// Gets the correctly classified images the model was least sure of: by <see cref="TopLossImage.PredictedProbability"/> ascending
    /// (the larger loss first), then by path (ordinal).
    /// </summary>
    public IReadOnlyList<TopLossImage> LeastConfidentCorrect { get; }

    /// <summary>Gets how many images were misclassified in all (the list may show fewer).</summary>
    public int ErrorCount { get; }

    /// <summary>Gets how many images were classified correctly in all.</summary>
    public int CorrectCount { get; }

    /// <summary>Renders both lists as fixed-width text.</summary>
    public string ToTable()
    {
        var b = new StringBuilder();
        b.AppendLine(CultureInfo.InvariantCulture, $"Most confident errors ({MostConfidentErrors.Count} of {ErrorCount})");
        Append(b, MostConfidentErrors);
        b.AppendLine();
        b.AppendLine(CultureInfo.InvariantCulture, $"Least confident correct predictions ({LeastConfidentCorrect.Count} of {CorrectCount})");
        Append(b, LeastConfidentCorrect);
        return b.ToString();
    }

    /// <inheritdoc />
    public override string ToString() => ToTable();

    private static void Append(StringBuilder b, IReadOnlyList<TopLossImage> images)
    {
        if (images.Count == 0)
        {
            b.AppendLine("None.");
            return;
        }

        TextTable.Append(b, ["Image", "True", "Predicted", "P(pred)", "P(true)", "Loss"], images.Select(i => new[]
        {
            TextTable.FitEnd(i.Path, 40), TextTable.FitStart(i.TrueLabel, 24), TextTable.FitStart(i.PredictedLabel, 24),
            TextTable.Number(i.PredictedProbability), TextTable.Number(i.TrueLabelProbability), TextTable.Number(i.Loss),
        }).ToArray(), alignment: "LLLRRR");
    }
}
