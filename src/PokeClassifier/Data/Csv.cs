using System.Text;

namespace PokeClassifier.Data;

/// <summary>
/// A small RFC 4180 reader and writer (quoted fields, doubled quotes, commas and newlines inside quotes). A quote opens a quoted
/// field only at the start of a field (elsewhere it is an ordinary character), and a quote that is never closed is an error naming
/// its line, never a field that silently swallows the rest of the file.
/// </summary>
internal static class Csv
{
    /// <exception cref="DatasetException">A quoted field is never closed.</exception>
    public static List<string[]> Read(string path)
    {
        var text = File.ReadAllText(path, Encoding.UTF8);
        var rows = new List<string[]>();
        var row = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        var line = 1;
        var quoteLine = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var ch = text[i];
            if (ch == '\n')
            {
                line++;
            }

            if (quoted)
            {
                if (ch == '"')
                {
                    if (i + 1 < text.Length && text[i + 1] == '"')
                    {
                        field.Append('"');
                        i++;
                    }
                    else
                    {
                        quoted = false;
                    }
                }
                else
                {
                    field.Append(ch);
                }
            }
            else if (ch == '"' && field.Length == 0)
            {
                quoted = true;
                quoteLine = line;
            }
            else if (ch == ',')
            {
                row.Add(field.ToString());
                field.Clear();
            }
            else if (ch is '\n' or '\r')
            {
                if (ch == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
                {
                    i++;
                    line++;
                }

                row.Add(field.ToString());
                field.Clear();
                rows.Add([.. row]);
                row.Clear();
            }
            else
            {
                field.Append(ch);
            }
        }

        if (quoted)
        {
            throw new DatasetException(
                $"'{path}' line {quoteLine}: a quoted field is opened (\") but never closed, so it would swallow the rest of the file " +
                $"({rows.Count} complete rows before it). Close the quote, or double a quote that is part of a value (\"\").");
        }

        if (field.Length > 0 || row.Count > 0)
        {
            row.Add(field.ToString());
            rows.Add([.. row]);
        }

        return rows;
    }

    public static string Escape(string value) =>
        value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
}
