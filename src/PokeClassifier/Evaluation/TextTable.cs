using System.Globalization;
using System.Text;

namespace PokeClassifier.Evaluation;

/// <summary>Fixed-width plain-text tables for the reports' <c>ToTable()</c> methods.</summary>
internal static class TextTable
{
    /// <summary>Marks text that was cut to fit; ASCII so the table lines up in any console code page.</summary>
    private const char CutMarker = '~';

    private const string ColumnGap = "  ";

    /// <summary>Formats a metric in [0, 1] (or a loss) with four decimals, culture-invariant.</summary>
    internal static string Number(double value) => value.ToString("0.0000", CultureInfo.InvariantCulture);

    /// <summary>Formats a count, culture-invariant.</summary>
    internal static string Integer(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Keeps the start of <paramref name="text"/>, marking a cut with a trailing <c>~</c>.</summary>
    internal static string FitStart(string text, int maxWidth)
    {
        if (text.Length <= maxWidth)
        {
            return text;
        }

        return maxWidth <= 1 ? text[..maxWidth] : string.Concat(text.AsSpan(0, maxWidth - 1), CutMarker.ToString());
    }

    /// <summary>Keeps the end of <paramref name="text"/> (the file name of a path), marking a cut with a leading <c>~</c>.</summary>
    internal static string FitEnd(string text, int maxWidth)
    {
        if (text.Length <= maxWidth)
        {
            return text;
        }

        return maxWidth <= 1
            ? text[^maxWidth..]
            : string.Concat(CutMarker.ToString(), text.AsSpan(text.Length - (maxWidth - 1)));
    }

    /// <summary>
    /// Appends a table: a header, a dashed rule, then the rows. Trailing spaces are trimmed.
    /// </summary>
    /// <param name="builder">Where the table goes.</param>
    /// <param name="header">The column headings.</param>
    /// <param name="rows">The cells, one array per row, as many as there are headings.</param>
    /// <param name="alignment">
    /// One character per column, <c>L</c> (text) or <c>R</c> (numbers); by default the first column is
    /// left-aligned and the others right-aligned.
    /// </param>
    internal static void Append(StringBuilder builder, IReadOnlyList<string> header, IReadOnlyList<string[]> rows, string? alignment = null)
    {
        alignment ??= "L" + new string('R', header.Count - 1);

        var widths = new int[header.Count];
        for (var column = 0; column < header.Count; column++)
        {
            widths[column] = header[column].Length;
            foreach (var row in rows)
            {
                widths[column] = Math.Max(widths[column], row[column].Length);
            }
        }

        AppendRow(builder, header, widths, alignment);
        AppendRow(builder, widths.Select(width => new string('-', width)).ToArray(), widths, alignment);
        foreach (var row in rows)
        {
            AppendRow(builder, row, widths, alignment);
        }
    }

    private static void AppendRow(StringBuilder builder, IReadOnlyList<string> cells, int[] widths, string alignment)
    {
        var line = new StringBuilder();
        for (var column = 0; column < cells.Count; column++)
        {
            if (column > 0)
            {
                line.Append(ColumnGap);
            }

            line.Append(alignment[column] == 'L'
                ? cells[column].PadRight(widths[column])
                : cells[column].PadLeft(widths[column]));
        }

        builder.AppendLine(line.ToString().TrimEnd());
    }
}
