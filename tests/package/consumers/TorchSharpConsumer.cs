// tests/package/run.sh, check C: an application that references PokeClassifier, PokeClassifier.TorchSharp and TorchSharp-cpu from
// the local feed trains the study's GAP head (TorchSharp) on the drawn images, saves it, and loads it back.
// Usage: dotnet TorchSharpConsumer.dll <folder-per-class images> <model to write>
using PokeClassifier;
using PokeClassifier.Training;
using PokeClassifier.Training.Custom;

using var run = await ImageClassification.FromFolder(args[0])
    .WithCustomHead(CustomHeadOptions.GlobalAveragePoolDense(), new TrainingOptions { Epochs = 3 })
    .RunAsync();
Console.WriteLine(run.Metrics.ToTable());
run.Classifier.Save(args[1]);
using var loaded = TrainedClassifier.Load(args[1]);
Console.WriteLine($"loaded: {loaded.TrainingPath} {loaded.HeadDescription}, {loaded.Classes.Count} classes");
