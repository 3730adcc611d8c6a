// The ML.NET-only consumer of tests/package/run.sh: loads a model.zip saved by PokeClassifier with nothing but ML.NET packages
// and checks that its labels equal the library's. Usage: MLNetOnly <model.zip> <expected.tsv (image path TAB label [TAB probability])>
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: MLNetOnly <model.zip> <expected.tsv>");
    return 2;
}

var mlContext = new MLContext(seed: 0);
var model = mlContext.Model.Load(args[0], out _);
using var engine = mlContext.Model.CreatePredictionEngine<Input, Output>(model);
int total = 0, agree = 0;
var largestScoreGap = 0.0;
foreach (var line in File.ReadLines(args[1]).Where(l => l.Length > 0))
{
    var parts = line.Split('\t');
    using var image = MLImage.CreateFromFile(parts[0]);
    var output = engine.Predict(new Input { Image = image });
    total++;
    var same = output.PredictedLabel == parts[1];
    if (same)
    {
        agree++;
    }

    var score = output.Score.Max();
    var library = parts.Length > 2 ? double.Parse(parts[2], CultureInfo.InvariantCulture) : double.NaN;
    if (!double.IsNaN(library))
    {
        largestScoreGap = Math.Max(largestScoreGap, Math.Abs(score - library));
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{Path.GetFileName(parts[0])}\t{output.PredictedLabel}\t{score:F3}\t{(same ? "==" : "!=")} library {parts[1]} {library:F3}"));
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"largest max-score gap to the library: {largestScoreGap:F3}"));
Console.WriteLine($"agreement: {agree}/{total}");
return total > 0 && agree == total ? 0 : 1;

/// <summary>The model's input: one image column named <c>Image</c>.</summary>
public sealed class Input
{
    [ImageType(224, 224)]
    public MLImage Image { get; set; } = null!;
}

/// <summary>The model's outputs: the label and one score per class.</summary>
public sealed class Output
{
    public string PredictedLabel { get; set; } = string.Empty;

    public float[] Score { get; set; } = [];
}
