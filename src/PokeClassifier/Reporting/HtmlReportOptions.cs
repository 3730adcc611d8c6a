using PokeClassifier.Training.LearningRate;

namespace PokeClassifier.Reporting;

/// <summary>How the classes of a confusion heatmap are ordered.</summary>
public enum ClassOrdering
{
    /// <summary>
    /// Classes that are confused with each other sit together: average-linkage hierarchical clustering of the symmetric,
    /// row-normalised confusion matrix, leaves in dendrogram order. Needs no knowledge of the classes.
    /// </summary>
    ByConfusion,

    /// <summary>The order of the class list (ordinal order of the labels unless the dataset says otherwise).</summary>
    ClassList,
}

/// <summary>Options of <see cref="ExperimentReport.WriteHtml"/>, validated all at once.</summary>
public sealed class HtmlReportOptions
{
    /// <summary>The report's title.</summary>
    /// <value>The default is <c>PokeClassifier experiment report</c>.</value>
    public string Title { get; init; } = "PokeClassifier experiment report";

    /// <summary>
    /// An explicit order for the heatmap's classes (for example by Pokédex id, so that evolution lines sit together; see
    /// <see cref="ClassOrder.FromManifest"/>). Classes it does not name follow in <see cref="Ordering"/> order. Wins over <see cref="Ordering"/>.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public IReadOnlyList<string>? ClassOrder { get; init; }

    /// <summary>The heatmap's class order when <see cref="ClassOrder"/> is not given.</summary>
    /// <value>The default is <see cref="ClassOrdering.ByConfusion"/>.</value>
    public ClassOrdering Ordering { get; init; } = ClassOrdering.ByConfusion;

    /// <summary>How many of the most-confused classes the focused heatmap shows.</summary>
    /// <value>The default is 20.</value>
    public int FocusClassCount { get; init; } = 20;

    /// <summary>The longest side of a thumbnail, in pixels.</summary>
    /// <value>The default is 96.</value>
    public int ThumbnailSize { get; init; } = 96;

    /// <summary>JPEG quality of the thumbnails, 1 to 100.</summary>
    /// <value>The default is 80.</value>
    public int ThumbnailQuality { get; init; } = 80;

    /// <summary>The most misclassified images shown per class in a gallery (most confidently wrong first).</summary>
    /// <value>The default is 8.</value>
    public int MaxImagesPerClass { get; init; } = 8;

    /// <summary>The most misclassified images shown per configuration; the report says when a gallery is capped.</summary>
    /// <value>The default is 300.</value>
    public int MaxImagesPerConfiguration { get; init; } = 300;

    /// <summary>How many worst classes are listed per configuration.</summary>
    /// <value>The default is 15.</value>
    public int WorstClassCount { get; init; } = 15;

    /// <summary>How many most-confused pairs are listed per configuration.</summary>
    /// <value>The default is 20.</value>
    public int ConfusedPairCount { get; init; } = 20;

    /// <summary>Whether thumbnails of misclassified images are embedded (turn off for a small, text-only report).</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool EmbedImages { get; init; } = true;

    /// <summary>
    /// A learning-rate finder result (<see cref="ClassificationBuilder.FindLearningRateAsync"/>) to show in its own section: the loss
    /// against the rate (log scale) with the suggested rate; <see langword="null"/> for no such section.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public LearningRateFinderResult? LearningRateFinder { get; init; }

    /// <summary>How many images each top-losses table shows (most confident errors, least confident correct predictions), per configuration.</summary>
    /// <value>The default is 10 (as in the Markdown and JSON reports).</value>
    public int TopLossCount { get; init; } = 10;

    /// <summary>Checks every option and throws one <see cref="ArgumentException"/> listing every problem.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Title))
        {
            errors.Add($"{nameof(Title)} must not be empty.");
        }

        if (!Enum.IsDefined(Ordering))
        {
            errors.Add($"{nameof(Ordering)} {(int)Ordering} is not a known ordering.");
        }

        Check(nameof(FocusClassCount), FocusClassCount, 2, 100);
        Check(nameof(ThumbnailSize), ThumbnailSize, 16, 512);
        Check(nameof(ThumbnailQuality), ThumbnailQuality, 1, 100);
        Check(nameof(MaxImagesPerClass), MaxImagesPerClass, 0, 1000);
        Check(nameof(MaxImagesPerConfiguration), MaxImagesPerConfiguration, 0, 100_000);
        Check(nameof(WorstClassCount), WorstClassCount, 0, 10_000);
        Check(nameof(ConfusedPairCount), ConfusedPairCount, 0, 10_000);
        Check(nameof(TopLossCount), TopLossCount, 0, 1000);
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid HTML report options: " + string.Join(" ", errors));
        }

        void Check(string name, int value, int min, int max)
        {
            if (value < min || value > max)
            {
                errors.Add($"{name} must be between {min} and {max} (was {value}).");
            }
        }
    }
}
