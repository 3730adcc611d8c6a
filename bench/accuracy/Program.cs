// The accuracy benchmark (docs/recipes.md): one recipe on one dataset per process, one JSON line appended to the results file.
//   dotnet bench/accuracy/bin/Release/net10.0/Accuracy.dll <dataset> <recipe> --out results.jsonl
//   dataset: kaggle (../shared/datasets/kaggle-visible, its split-80-20.csv) | sprites-back (../shared/datasets/pokeapi-gen1,
//            the held-out back view of pokeapi-gen1-splits)
//   recipe:  frozen (a: frozen ResNet18 + ML.NET L-BFGS defaults) | frozen-best (b: flip-averaged features, L2 chosen on
//            validation) | frozen-multi (b with multi-layer features) | finetune-cached (the cached fine-tuning preset) | study-gap, study-dense256 (c: the study's heads with the study's loop) | budget:<minutes> (d)
// bench/accuracy/run.sh runs every row in its own process (its own peak memory) and prints the table.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using PokeClassifier.Training.Budget;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.FineTuning;
using PokeClassifier;
using PokeClassifier.Data;
using PokeClassifier.Training;

if (args.Length > 0 && args[0] == "probe")
{
    Probe.Run(args[1..]);
    return 0;
}

if (args.Length > 0 && args[0] == "probe-activations")
{
    ProbeActivations.Run(args[1..]);
    return 0;
}

if (args.Length > 0 && args[0] == "throughput")
{
    Throughput.Run(args[1..]);
    return 0;
}

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: Accuracy <kaggle|sprites-back> <frozen|frozen-best|study-gap|study-dense256|finetune-cached[:size=S,epochs=E,blocks=B,mixup=A|cutmix=A]|budget:MINUTES> [--out FILE] [--shared DIR] [--cache DIR]");
    return 2;
}

string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
var shared = Option("--shared", Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../../../shared")));
var output = Option("--out", "accuracy-results.jsonl");
var (datasetName, recipe) = (args[0], args[1]);
var load = Stopwatch.StartNew();
ImageDataset dataset;
DatasetSplit split;
if (datasetName == "kaggle")
{
    var root = Path.Combine(shared, "datasets", "kaggle-visible");
    if (!Directory.Exists(root))
    {
        Console.Error.WriteLine($"{root} is missing: this benchmark needs the kaggle-visible dataset beside the repository (../shared/datasets/kaggle-visible).");
        return 3;
    }

    dataset = await ImageDataset.FromFolderAsync(root);
    split = DatasetSplit.FromFile(dataset, Path.Combine(root, "split-80-20.csv"));
}
else if (datasetName == "sprites-back")
{
    var root = Path.Combine(shared, "datasets", "pokeapi-gen1");
    if (!Directory.Exists(root))
    {
        Console.Error.WriteLine($"{root} is missing: this benchmark needs ../shared/datasets/pokeapi-gen1 and pokeapi-gen1-splits.");
        return 3;
    }

    dataset = await ImageDataset.FromManifestAsync(Path.Combine(root, "manifest.csv"), new DatasetLoadOptions { GroupColumn = "source_group" });
    split = DatasetSplit.FromFile(dataset, Path.Combine(shared, "datasets", "pokeapi-gen1-splits", "pokeapi_holdout-view-back.csv"));
}
else
{
    Console.Error.WriteLine($"unknown dataset '{datasetName}'");
    return 2;
}

Console.Error.WriteLine($"{datasetName}: {split} (loaded in {load.Elapsed.TotalSeconds:0} s)");

// Each process featurizes into its own cache, so every row pays for its own features; --cache DIR shares one between rows (for
// comparing training recipes on the same frozen activations; the wall time then leaves out the frozen pass).
var sharedCache = Option("--cache", string.Empty);
var cache = sharedCache.Length > 0 ? Path.GetFullPath(sharedCache) : Path.Combine(Path.GetTempPath(), $"pokeclassifier-accuracy-{Guid.NewGuid():N}");
var builder = ImageClassification.From(dataset).WithSplit(split).WithFeatureCache(cache);
builder = recipe switch
{
    "frozen" => builder.WithMLNetHead(),
    "frozen-best" => builder.WithFeaturizer(new() { CacheDirectory = cache, FlipAveraging = true }).WithMLNetHead(new MLNetHeadOptions { ChooseL2OnValidation = true }),
    "frozen-multi" => builder.WithFeaturizer(new() { CacheDirectory = cache, FlipAveraging = true, MultiLayerFeatures = true }).WithMLNetHead(new MLNetHeadOptions { ChooseL2OnValidation = true }),
    "finetune-cached" => builder.WithHead(HeadConfiguration.FineTune(CustomHeadOptions.GlobalAveragePoolDense(), TrainingOptions.RecommendedCachedFineTune, FineTuneOptions.RecommendedCached)),
    "study-gap" => builder.WithCustomHead(CustomHeadOptions.GlobalAveragePoolDense(), TrainingOptions.Study),
    "study-dense256" => builder.WithCustomHead(CustomHeadOptions.FlattenDense256(), TrainingOptions.Study),
    _ when recipe.StartsWith("finetune-cached:", StringComparison.Ordinal) => builder.WithHead(CachedFineTune(recipe["finetune-cached:".Length..])),
    _ when recipe.StartsWith("budget:", StringComparison.Ordinal) => builder.WithTimeBudget(new TrainingBudget(TimeSpan.FromMinutes(double.Parse(recipe[7..], CultureInfo.InvariantCulture)))),
    _ => throw new ArgumentException($"unknown recipe '{recipe}'"),
};

var lastStage = string.Empty;
var progress = new Progress<ClassificationProgress>(p =>
{
    var stage = p.Stage.ToString();
    if (stage != lastStage)
    {
        lastStage = stage;
        Console.Error.WriteLine($"  {DateTime.Now:HH:mm:ss} {stage}");
    }
});
var watch = Stopwatch.StartNew();
using var run = await builder.RunAsync(progress);
var wall = watch.Elapsed.TotalSeconds;
var metrics = run.Metrics;
var row = new
{
    dataset = datasetName,
    recipe,
    macroF1 = metrics.MacroF1,
    accuracy = metrics.Accuracy,
    top5 = metrics.TopKAccuracy.TryGetValue(5, out var t5) ? t5 : double.NaN,
    wallSeconds = wall,
    plan = run.Plan?.ToString(),
    training = run.Classifier.Training?.StopReason,
    cpu = Environment.ProcessorCount,
};
Console.WriteLine(JsonSerializer.Serialize(row));
File.AppendAllText(output, JsonSerializer.Serialize(row) + Environment.NewLine);
try
{
    if (sharedCache.Length == 0)
    {
        Directory.Delete(cache, recursive: true);
    }
}
catch (IOException)
{
}

return 0;

// The recommended cached fine-tuning with some of its settings replaced: "size=224,epochs=12,mixup=0.2" (or cutmix=1, blocks=3).
static HeadConfiguration CachedFineTune(string settings)
{
    var training = TrainingOptions.RecommendedCachedFineTune;
    var fineTune = FineTuneOptions.RecommendedCached;
    foreach (var pair in settings.Split(',', StringSplitOptions.RemoveEmptyEntries))
    {
        var (key, value) = (pair.Split('=')[0], double.Parse(pair.Split('=')[1], CultureInfo.InvariantCulture));
        (training, fineTune) = key switch
        {
            "size" => (training, fineTune with { InputSize = (int)value }),
            "blocks" => (training, fineTune with { UnfreezeLastBlocks = (int)value }),
            "epochs" => (training with { Epochs = (int)value }, fineTune),
            "mixup" => (training with { Mixing = MixingOptions.Mixup(value) }, fineTune),
            "cutmix" => (training with { Mixing = MixingOptions.CutMix(value) }, fineTune),
            _ => throw new ArgumentException($"unknown finetune-cached setting '{key}' (size, blocks, epochs, mixup, cutmix)"),
        };
    }

    return HeadConfiguration.FineTune(CustomHeadOptions.GlobalAveragePoolDense(), training, fineTune);
}
