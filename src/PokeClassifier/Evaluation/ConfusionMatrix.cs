using System.Collections.ObjectModel;
using System.Text;

namespace PokeClassifier.Evaluation;

/// <summary>
/// Counts of (true label, predicted label) pairs: rows are true labels, columns are predicted labels,
/// both in the order of <see cref="Labels"/>. Immutable and thread-safe.
/// </summary>
public sealed class ConfusionMatrix
{
    private const string CornerHeader = "true\\pred";

    private readonly int[] _counts;
    private readonly Dictionary<string, int> _indexByLabel;

    /// <summary>Initializes a new instance of the <see cref="ConfusionMatrix"/> class from a square table of counts.</summary>
    /// <param name="labels">The class labels, distinct (ordinal comparison), in row and column order.</param>
    /// <param name="counts">
    /// One row per true label, each with one non-negative count per predicted label. The values are copied.
    /// </param>
    /// <exception cref="ArgumentException">
    /// <paramref name="labels"/> is empty, holds a null or duplicate label, or <paramref name="counts"/> is not
    /// a square table of non-negative counts matching <paramref name="labels"/>.
    /// </exception>
    public ConfusionMatrix(IReadOnlyList<string> labels, IReadOnlyList<IReadOnlyList<int>> counts)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(counts);
        if (labels.Count == 0)
        {
            throw new ArgumentException("The label list is empty; a confusion matrix needs at least one class.", nameof(labels));
        }

        var labelArray = labels.ToArray();
        var size = labelArray.Length;
        if (counts.Count != size)
        {
            throw new ArgumentException($"The counts have {counts.Count} rows but there are {size} labels.", nameof(counts));
        }

        var flat = new int[size * size];
        for (var row = 0; row < size; row++)
        {
            var values = counts[row] ?? throw new ArgumentException($"Row {row} of the counts is null.", nameof(counts));
            if (values.Count != size)
            {
                throw new ArgumentException($"Row {row} of the counts has {values.Count} values but there are {size} labels.", nameof(counts));
            }

            for (var column = 0; column < size; column++)
            {
                if (values[column] < 0)
                {
                    throw new ArgumentException($"The count at row {row}, column {column} is negative ({values[column]}).", nameof(counts));
                }

                flat[(row * size) + column] = values[column];
            }
        }

        _indexByLabel = BuildIndex(labelArray);
        _counts = flat;
        Labels = new ReadOnlyCollection<string>(labelArray);
    }

    /// <summary>Initializes a new instance from already validated data; takes ownership of both arrays.</summary>
    internal ConfusionMatrix(string[] labels, int[] rowMajorCounts)
    {
        _indexByLabel = BuildIndex(labels);
        _counts = rowMajorCounts;
        Labels = new ReadOnlyCollection<string>(labels);
    }

    /// <summary>Gets the class labels, in row and column order.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>Gets the number of images whose true label is <c>Labels[trueIdx]</c> and were predicted as <c>Labels[predIdx]</c>.</summary>
    /// <param name="trueIdx">The row: the index of the true label in <see cref="Labels"/>.</param>
    /// <param name="predIdx">The column: the index of the predicted label in <see cref="Labels"/>.</param>
    /// <returns>The count of images in that cell.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside <see cref="Labels"/>.</exception>
    public int this[int trueIdx, int predIdx]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(trueIdx);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(trueIdx, Labels.Count);
            ArgumentOutOfRangeException.ThrowIfNegative(predIdx);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(predIdx, Labels.Count);
            return _counts[(trueIdx * Labels.Count) + predIdx];
        }
    }

    /// <summary>Gets the number of images of <paramref name="trueLabel"/> that were predicted as <paramref name="predictedLabel"/>.</summary>
    /// <param name="trueLabel">The true label (ordinal comparison).</param>
    /// <param name="predictedLabel">The predicted label (ordinal comparison).</param>
    /// <returns>The count of images in that cell.</returns>
    /// <exception cref="ArgumentException">A label is not one of <see cref="Labels"/>.</exception>
    public int Count(string trueLabel, string predictedLabel) =>
        this[IndexOf(trueLabel, nameof(trueLabel)), IndexOf(predictedLabel, nameof(predictedLabel))];

    /// <summary>
    /// Renders the matrix as a fixed-width text table: one row per true label, one column per predicted label.
    /// </summary>
    /// <param name="maxLabelWidth">
    /// The widest a label may print; longer labels are cut and end in <c>~</c>. The default is 12.
    /// </param>
    /// <returns>The table, one line per row, ending in a new line.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxLabelWidth"/> is less than 1.</exception>
    public string ToTable(int maxLabelWidth = 12)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLabelWidth, 1);
        var size = Labels.Count;
        var shortLabels = Labels.Select(label => TextTable.FitStart(label, maxLabelWidth)).ToArray();

        var header = new string[size + 1];
        header[0] = CornerHeader;
        shortLabels.CopyTo(header, 1);

        var rows = new string[size][];
        for (var row = 0; row < size; row++)
        {
            rows[row] = new string[size + 1];
            rows[row][0] = shortLabels[row];
            for (var column = 0; column < size; column++)
            {
                rows[row][column + 1] = TextTable.Integer(_counts[(row * size) + column]);
            }
        }

        var builder = new StringBuilder();
        TextTable.Append(builder, header, rows);
        return builder.ToString();
    }

    /// <summary>Returns the same text as <see cref="ToTable(int)"/> with the default label width.</summary>
    /// <returns>The matrix as a fixed-width text table.</returns>
    public override string ToString() => ToTable();

    private int IndexOf(string label, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(label, parameterName);
        return _indexByLabel.TryGetValue(label, out var index)
            ? index
            : throw new ArgumentException($"'{label}' is not one of the matrix labels ({string.Join(", ", Labels)}).", parameterName);
    }

    private static Dictionary<string, int> BuildIndex(string[] labels)
    {
        var index = new Dictionary<string, int>(labels.Length, StringComparer.Ordinal);
        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i] is null)
            {
                throw new ArgumentException($"The label at index {i} is null.", nameof(labels));
            }

            if (!index.TryAdd(labels[i], i))
            {
                throw new ArgumentException($"The label '{labels[i]}' appears more than once (indexes {index[labels[i]]} and {i}).", nameof(labels));
            }
        }

        return index;
    }
}
