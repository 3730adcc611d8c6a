using System.Text;
using System.Text.RegularExpressions;

namespace PokeClassifier.Data.DefaultDataset;

/// <summary>Turns an English Pokémon name into an ASCII folder name, exactly as <c>tools/build-dataset.sh</c> does.</summary>
internal static partial class ClassFolderNames
{
    /// <summary>
    /// ♀ and ♂ become <c>-F</c> and <c>-M</c>; ’ ' and . are removed; runs of white space become one hyphen; the result is
    /// NFKD-normalised and every character other than ASCII letters, digits and hyphens is dropped
    /// (Nidoran♀ → Nidoran-F, Farfetch’d → Farfetchd, Mr. Mime → Mr-Mime, Flabébé → Flabebe).
    /// </summary>
    public static string Fold(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var s = name.Replace("♀", "-F", StringComparison.Ordinal).Replace("♂", "-M", StringComparison.Ordinal);
        s = Punctuation().Replace(s, string.Empty);
        s = WhiteSpace().Replace(s, "-");
        s = s.Normalize(NormalizationForm.FormKD);
        var folded = new StringBuilder(s.Length);
        foreach (var ch in s)
        {
            if (char.IsAsciiLetterOrDigit(ch) || ch == '-')
            {
                folded.Append(ch);
            }
        }

        return folded.ToString();
    }

    [GeneratedRegex("[\u2019'.]")]
    private static partial Regex Punctuation();

    [GeneratedRegex(@"\s+")]
    private static partial Regex WhiteSpace();
}
