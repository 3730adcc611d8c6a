// The main job, and the study reproduced: prepare the first-generation Pokémon sprite set (npm, cached after the first run),
// hold out one whole animation per Pokémon for testing (frames of one animation never straddle train and test), and compare
// backbones and heads side by side: ResNet18 (always available offline) on the ML.NET path, and DenseNet201 and VGG16 — the
// study's pair, with the study's own Keras ImageNet weights — fetched on the first run (verified against Keras' checksums and
// converted to ONNX in-process, no Python), each missing one skipped with one line when the network or the disk says no.
// Prints the comparison table, each configuration's worst classes and five most-confused pairs, and writes Markdown, HTML and
// JSON reports.
//
// Usage: dotnet run --project samples/PokemonStudy -c Release [-- --data <folder|manifest.csv>] [--seed N] [--out DIR]
//        [--densenet201 <densenet201_..._notop.h5>] [--vgg16 <vgg16_..._notop.h5>] [--offline]
using System.Diagnostics;
using System.Globalization;
using PokeClassifier.Data.DefaultDataset;
using PokeClassifier.Experiments;
using PokeClassifier.Training.Custom;
using PokeClassifier;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Reporting;
using PokeClassifier.Training;

var options = StudyArgs.Parse(args);
using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cts.Cancel();
    Console.Error.WriteLine("\nCancelling...");
};

try
{
    var total = Stopwatch.StartNew();
    ImageDataset dataset;
    string? manifest = null;
    if (options.Data is null)
    {
        Console.WriteLine($"Preparing the default dataset ({PokemonSpriteDataset.SpritesPackage}, {PokemonSpriteDataset.NamesPackage}) in {PokemonSpriteDataset.DefaultDirectory}");
        var prepared = await PokemonSpriteDataset.PrepareAsync(progress: new StatusLine<DatasetPreparationProgress>(p => $"{p.Stage} {p.Completed}/{p.Total}"), cancellationToken: cts.Token);
        StatusLine.Clear();
        Console.WriteLine(prepared);
        manifest = prepared.ManifestPath;
        dataset = await ImageDataset.FromManifestAsync(manifest, cancellationToken: cts.Token);
    }
    else
    {
        manifest = options.Data.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) ? options.Data : null;
        dataset = manifest is not null
            ? await ImageDataset.FromManifestAsync(manifest, cancellationToken: cts.Token)
            : await ImageDataset.FromFolderAsync(options.Data, cancellationToken: cts.Token);
    }

    Console.WriteLine($"Dataset: {dataset}");

    // Three quarters of each class's animations train, one quarter (one whole animation per Pokémon) tests.
    var experiment = Experiment.For(dataset)
        .WithSplit(new SplitOptions { TrainFraction = 0.75, ValidationFraction = 0, TestFraction = 0.25, Seed = options.Seed, SmallClasses = SmallClassPolicy.TrainOnly })
        .WithWeightStore(new WeightStoreOptions { AllowDownload = !options.Offline })
        .Add("ResNet18 + ML.NET L-BFGS", BackboneSpec.ResNet18, HeadConfiguration.MLNet(MLNetTrainer.LbfgsMaximumEntropy))
        .Add("ResNet18 + GAP-Dense (study)", BackboneSpec.ResNet18, HeadConfiguration.Custom(CustomHeadOptions.GlobalAveragePoolDense()))
        .Add("ResNet18 + Flatten-256-Dense (study)", BackboneSpec.ResNet18, HeadConfiguration.Custom(CustomHeadOptions.FlattenDense256()));

    // The study's backbones (Keras' weights, as the study used them): an explicit file, the weight cache, or a download (unless
    // --offline), converted to ONNX once; each one that cannot be had is skipped with one line, and the rest runs.
    var store = new WeightStore(new WeightStoreOptions { AllowDownload = !options.Offline });
    // Each with the study's own head (DenseNet201: global average pooling + softmax; VGG16: flatten + 256 ReLU + softmax; Adam,
    // learning rate reduced every epoch, 10 epochs, batch 32, early stopping) and with the ML.NET head.
    foreach (var (name, spec, path, studyHead, studyHeadName) in new[]
    {
        ("DenseNet201", BackboneSpec.Pretrained("densenet201-keras"), options.DenseNet201, CustomHeadOptions.GlobalAveragePoolDense(), "GAP-Dense"),
        ("VGG16", BackboneSpec.Pretrained("vgg16-keras"), options.Vgg16, CustomHeadOptions.FlattenDense256(), "Flatten-256-Dense"),
    })
    {
        try
        {
            Console.WriteLine($"{name}: {(path is null ? "from the weight cache or " + spec.WeightSources[0].Url : path)}");
            var resolved = await store.ResolveAsync(spec, path, new StatusLine<DownloadProgress>(p => $"Downloading {p.FileName} {p.BytesReceived >> 20} MB"), cts.Token);
            StatusLine.Clear();
            experiment = experiment
                .Add($"{name} + {studyHeadName} (study)", resolved, HeadConfiguration.Custom(studyHead))
                .Add($"{name} + ML.NET L-BFGS", resolved, HeadConfiguration.MLNet(MLNetTrainer.LbfgsMaximumEntropy));
        }
        catch (WeightsUnavailableException e)
        {
            StatusLine.Clear();
            var source = spec.WeightSources[0];
            var why = e.Message.Split('\n')[0];
            Console.WriteLine($"{name}: skipped ({why.TrimEnd('.')}). Put {source.FileName} in {e.CacheDirectory}, or pass --{name.ToLowerInvariant()} <file>{(options.Offline ? ", or run without --offline" : string.Empty)}.");
        }
        catch (PokeClassifierException e)
        {
            // A file that does not fit the network, or a full disk while converting: one line, and the comparison goes on.
            StatusLine.Clear();
            Console.WriteLine($"{name}: skipped ({e.Message.Split('\n')[0].TrimEnd('.')}).");
        }
    }

    var result = await experiment.RunAsync(new StatusLine<ExperimentProgress>(p => $"{p.Stage} {p.Subject} {p.Completed}/{p.Total}"), cts.Token);
    StatusLine.Clear();

    Console.WriteLine();
    Console.WriteLine(result.ComparisonTable());
    foreach (var configuration in result.Configurations)
    {
        Console.WriteLine($"{configuration.Name}: worst classes");
        foreach (var c in configuration.Metrics.WorstClasses(5))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {c.Label,-12} F1 {c.F1:F3}  P {c.Precision:F3}  R {c.Recall:F3}  n={c.Support}"));
        }

        Console.WriteLine($"{configuration.Name}: five most-confused pairs (true -> taken for)");
        foreach (var pair in configuration.Errors.MostConfusedPairs.Take(5))
        {
            Console.WriteLine($"  {pair.TrueLabel,-12} -> {pair.PredictedLabel,-12} x{pair.Count}");
        }

        Console.WriteLine();
    }

    var html = new HtmlReportOptions
    {
        Title = "PokeClassifier: first-generation Pokémon",
        ClassOrder = manifest is not null && File.ReadLines(manifest).First().Split(',').Contains("id") ? ClassOrder.FromManifest(manifest) : null,
    };
    var files = ExperimentReport.WriteAll(result, options.Output, html);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Reports: {string.Join(", ", files)} | total {total.Elapsed.TotalMinutes:F1} min"));
    return 0;
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("Cancelled. The feature cache is consistent; the next run resumes where this one stopped.");
    return 130;
}
catch (Exception e) when (e is PokeClassifierException or ArgumentException or IOException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

internal sealed record StudyArgs(string? Data, int Seed, string Output, string? DenseNet201, string? Vgg16, bool Offline)
{
    public static StudyArgs Parse(string[] args)
    {
        string? data = null, densenet = null, vgg = null;
        var seed = 42;
        var offline = WeightStoreOptions.OfflineByEnvironment;
        var output = Path.Combine(Environment.CurrentDirectory, "pokeclassifier-output");
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--data" when i + 1 < args.Length:
                    data = args[++i];
                    break;
                case "--seed" when i + 1 < args.Length:
                    seed = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--out" when i + 1 < args.Length:
                    output = args[++i];
                    break;
                case "--densenet201" when i + 1 < args.Length:
                    densenet = args[++i];
                    break;
                case "--vgg16" when i + 1 < args.Length:
                    vgg = args[++i];
                    break;
                case "--offline":
                    offline = true;
                    break;
                case "--download":
                    break; // the default now; kept so older command lines still run
                default:
                    throw new ArgumentException($"Unknown argument '{args[i]}'. Usage: PokemonStudy [--data <folder|manifest.csv>] [--seed N] [--out DIR] [--densenet201 FILE] [--vgg16 FILE] [--offline]");
            }
        }

        return new StudyArgs(data, seed, output, densenet, vgg, offline);
    }
}

/// <summary>One status line on the terminal, rewritten in place at most ten times a second (nothing when output is redirected).</summary>
internal sealed class StatusLine<T>(Func<T, string> format) : IProgress<T>
{
    private readonly Lock _gate = new();
    private readonly Stopwatch _since = Stopwatch.StartNew();

    public void Report(T value)
    {
        if (Console.IsOutputRedirected)
        {
            return;
        }

        lock (_gate)
        {
            if (_since.ElapsedMilliseconds < 100)
            {
                return;
            }

            _since.Restart();
            Console.Write("\r" + format(value).PadRight(70)[..70]);
        }
    }
}

internal static class StatusLine
{
    public static void Clear()
    {
        if (!Console.IsOutputRedirected)
        {
            Console.Write("\r" + new string(' ', 70) + "\r");
        }
    }
}
