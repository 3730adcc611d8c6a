// The README quick start, kept compiling. Usage: dotnet run -- <folder-per-class images>
using PokeClassifier;
using PokeClassifier.Data;

var folder = args.Length > 0 ? args[0] : "images";

using var run = await ImageClassification.FromFolder(folder)     // one sub-folder per class
    .WithSplit(new SplitOptions { TrainFraction = 0.8, ValidationFraction = 0, TestFraction = 0.2 })
    .WithMLNetHead()                                             // ResNet18 features + LbfgsMaximumEntropy
    .RunAsync();

Console.WriteLine(run.Metrics.ToTable());                        // accuracy, macro/weighted P/R/F1, per class
Console.WriteLine(run.Errors.ToTable());                         // misclassified images, most-confused pairs
run.Classifier.Save("model.zip");                                // also a plain ML.NET model
Console.WriteLine(run.Classifier.Predict(run.Split.Test[0].Path));
