// The fine-tuning benchmark (docs/fine-tuning.md): ResNet18 (ML.NET's, offline) on ../shared/datasets/pokeapi-gen1 with the
// held-out-GIF splits and the held-out back view, for one configuration per process (so its peak memory is its own):
//   mlnet      (a) frozen + ML.NET LbfgsMaximumEntropy
//   gap        (b) frozen + the study's DenseNet201 head (global average pool, dense softmax), the study's loop
//   dense256   (b) frozen + the study's VGG16 head (Dense 256 ReLU, dense softmax), the study's loop
//   finetune   (c) the last 2 blocks fine-tuned with the study's DenseNet201 head, 128 x 128, frozen activations cached
//   warmup     fills the feature cache (224) and the frozen-activation cache (128) once, and times both
//   tradeoff   the cost of the choices on 15 classes of the held-out-front-GIF split: input 128 or 224, cached activations or
//              augmentation, last 2 blocks or the whole backbone (2 epochs each; seconds per epoch and per image)
// Usage: dotnet run -c Release --project bench/FineTune -- <config> [--data DIR] [--splits DIR] [--epochs N] [--out FILE.jsonl]
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using PokeClassifier.Experiments;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.FineTuning;
using PokeClassifier;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Training;

var config = args.FirstOrDefault() ?? "mlnet";
string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
var data = Option("--data", Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../../shared/datasets/pokeapi-gen1")));
var splitsDir = Option("--splits", Path.Combine(Path.GetDirectoryName(Path.GetFullPath(data))!, "pokeapi-gen1-splits"));
var epochs = int.Parse(Option("--epochs", "5"), CultureInfo.InvariantCulture);
var output = Option("--out", "fine-tune-bench.jsonl");
string[] splitFiles =
[
    "pokeapi_holdout-gif-front.csv", "pokeapi_holdout-gif-back.csv", "pokeapi_holdout-gif-shiny.csv", "pokeapi_holdout-gif-back-shiny.csv",
    "pokeapi_holdout-view-back.csv",
];

var fineTune = HeadConfiguration.FineTune(
    CustomHeadOptions.GlobalAveragePoolDense(),
    new TrainingOptions { Epochs = epochs },
    new FineTuneOptions { UnfreezeLastBlocks = 2, InputSize = 128 });
HeadConfiguration head = config switch
{
    "mlnet" => HeadConfiguration.MLNet(),
    "gap" => HeadConfiguration.Custom(CustomHeadOptions.GlobalAveragePoolDense()),
    "dense256" => HeadConfiguration.Custom(CustomHeadOptions.FlattenDense256()),
    "finetune" or "warmup" or "tradeoff" => fineTune,
    _ => throw new ArgumentException($"unknown configuration '{config}'"),
};

var load = Stopwatch.StartNew();
var dataset = await ImageDataset.FromManifestAsync(Path.Combine(data, "manifest.csv"), new DatasetLoadOptions { GroupColumn = "source_group" });
Console.Error.WriteLine($"{dataset} loaded in {load.Elapsed.TotalSeconds:F0} s");

if (config == "warmup")
{
    // Features at 224 for (a) and (b), and the frozen activations at 128 for (c): every image once, each timed.
    var all = dataset.Items.ToArray();
    var split = DatasetSplit.FromFile(dataset, Path.Combine(splitsDir, splitFiles[0]));
    var watch = Stopwatch.StartNew();
    var features = await Experiment.For(dataset).WithSplit(split).WithMeasurements(0, false).Add("warmup features", BackboneSpec.ResNet18, HeadConfiguration.MLNet()).RunAsync();
    var featureSeconds = watch.Elapsed.TotalSeconds;
    watch.Restart();
    using var warm = await ImageClassification.From(dataset).WithHead(HeadConfiguration.FineTune(CustomHeadOptions.GlobalAveragePoolDense(), new TrainingOptions { Epochs = 1, ValidationFraction = 0.5 }, new FineTuneOptions { UnfreezeLastBlocks = 2, InputSize = 128 }))
        .TrainAsync(all);
    Write(new { config, featurizationSeconds = features.Configurations[0].Timings.FeaturizationSeconds, featuresComputed = features.Configurations[0].Timings.FeaturesComputed, featureRunSeconds = featureSeconds, activationRunSeconds = watch.Elapsed.TotalSeconds, images = all.Length });
    return;
}

if (config == "tradeoff")
{
    var split = DatasetSplit.FromFile(dataset, Path.Combine(splitsDir, splitFiles[0]));
    var classes = split.Classes.Take(15).ToHashSet(StringComparer.Ordinal);
    var train = split.Train.Where(i => classes.Contains(i.Label)).ToArray();
    var test = split.Test.Where(i => classes.Contains(i.Label)).ToArray();
    foreach (var (size, blocks, augment) in new[] { (128, 2, false), (128, 2, true), (224, 2, false), (224, 2, true), (128, 1, false), (128, FineTuneOptions.AllBlocks, false) })
    {
        var options = new FineTuneOptions { UnfreezeLastBlocks = blocks, InputSize = size, Augmentation = augment ? AugmentationOptions.Default : null };
        var watch = Stopwatch.StartNew();
        using var tuned = await ImageClassification.From(dataset).WithoutFeatureCache()
            .WithHead(HeadConfiguration.FineTune(CustomHeadOptions.GlobalAveragePoolDense(), new TrainingOptions { Epochs = 2, EarlyStopping = null }, options))
            .TrainAsync(train);
        var total = watch.Elapsed.TotalSeconds;
        var evaluation = await tuned.EvaluateAsync(test);
        var history = tuned.Training!.History;
        Write(new
        {
            config,
            size,
            blocks = blocks == FineTuneOptions.AllBlocks ? "all" : blocks.ToString(CultureInfo.InvariantCulture),
            augment,
            train = train.Length,
            totalSeconds = total,
            epochSeconds = history.Average(e => e.Seconds),
            msPerImagePerEpoch = 1000 * history.Average(e => e.Seconds) / train.Length,
            macroF1 = evaluation.Metrics.MacroF1,
        });
        Console.Error.WriteLine($"{size} px, {options}: {total:F0} s, {history.Average(e => e.Seconds):F1} s/epoch, macro-F1 {evaluation.Metrics.MacroF1:F3}");
    }

    return;
}

foreach (var file in splitFiles)
{
    var split = DatasetSplit.FromFile(dataset, Path.Combine(splitsDir, file));
    var watch = Stopwatch.StartNew();
    var result = await Experiment.For(dataset).WithSplit(split).WithMeasurements(16, false)
        .Add(config, BackboneSpec.ResNet18, head)
        .RunAsync(new Progress<ExperimentProgress>(p => Console.Error.Write($"\r{file} {p.Stage} {p.Subject} {p.Completed}/{p.Total}        ")));
    var c = result.Configurations[0];
    // What the process still holds once the split's run is over (a run must give back its activations, sessions and tensors).
    GC.Collect();
    GC.WaitForPendingFinalizers();
    GC.Collect();
    var heldAfterMB = Process.GetCurrentProcess().WorkingSet64 / 1048576.0;
    Console.Error.WriteLine($"\r{file}: {c}, {watch.Elapsed.TotalSeconds:F0} s, {heldAfterMB:F0} MB held after".PadRight(100));
    Write(new
    {
        config,
        head = c.Head,
        split = file,
        train = split.Train.Count,
        test = split.Test.Count,
        macroF1 = c.Metrics.MacroF1,
        accuracy = c.Metrics.Accuracy,
        wallSeconds = watch.Elapsed.TotalSeconds,
        featurizationSeconds = c.Timings.FeaturizationSeconds,
        trainingSeconds = c.Timings.TrainingSeconds,
        peakMemoryMB = c.PeakMemoryBytes / 1048576.0,
        processPeakMB = Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0,
        heldAfterMB,
        epochs = c.TrainingHistory.Count,
    });
}

void Write(object row)
{
    File.AppendAllText(output, JsonSerializer.Serialize(row) + Environment.NewLine);
}
