// Options of the research probes: "--name value" pairs with defaults.
using System.Globalization;

internal sealed class ProbeArgs(string[] args)
{
    public string Text(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;

    public double Number(string name, double fallback) => double.Parse(Text(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

    public int Integer(string name, int fallback) => int.Parse(Text(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

    /// <summary>The kaggle-visible folder of ../shared beside the repository, or --data.</summary>
    public string Data => Text("--data", Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../../shared/datasets/kaggle-visible")));
}
