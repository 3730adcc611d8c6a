// The main job: prepare the first-generation Pokémon sprite set (npm, cached after the first run), hold out one whole animation
// per Pokémon for testing (frames of one animation never straddle train and test), featurize with ImageNet ResNet18, train the
// ML.NET head, and print the metric table, the worst classes and the most-confused pairs.
//
// Usage: dotnet run --project samples/PokemonStudy -c Release [-- --data <folder or manifest.csv>] [--seed N] [--out DIR]
using System.Diagnostics;
using System.Globalization;
using PokeClassifier;
using PokeClassifier.Data;

var options = Args.Parse(args);
using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cts.Cancel();
    Console.Error.WriteLine("Cancelling...");
};

try
{
    var total = Stopwatch.StartNew();
    ImageDataset dataset;
    if (options.Data is null)
    {
        Console.WriteLine($"Preparing the default dataset ({PokemonSpriteDataset.SpritesPackage}, {PokemonSpriteDataset.NamesPackage}) in {PokemonSpriteDataset.DefaultDirectory}");
        var prepared = await PokemonSpriteDataset.PrepareAsync(progress: new ConsoleProgress<DatasetPreparationProgress>(p => $"{p.Stage} {p.Completed}/{p.Total}"), cancellationToken: cts.Token);
        Console.WriteLine($"\r{prepared}".PadRight(100));
        dataset = await ImageDataset.FromManifestAsync(prepared.ManifestPath, cancellationToken: cts.Token);
    }
    else
    {
        dataset = options.Data.EndsWith(".csv", StringComparison.OrdinalIgnoreCase)
            ? await ImageDataset.FromManifestAsync(options.Data, cancellationToken: cts.Token)
            : await ImageDataset.FromFolderAsync(options.Data, cancellationToken: cts.Token);
    }

    Console.WriteLine($"Dataset: {dataset}");

    // Three quarters of each class's animations train, one quarter (one whole animation per Pokémon) tests.
    using var run = await ImageClassification.From(dataset)
        .WithSplit(new SplitOptions { TrainFraction = 0.75, ValidationFraction = 0, TestFraction = 0.25, Seed = options.Seed, SmallClasses = SmallClassPolicy.TrainOnly })
        .WithMLNetHead()
        .RunAsync(new ConsoleProgress<ClassificationProgress>(p => p.Total > 0 ? $"{p.Stage} {p.Completed}/{p.Total}" : $"{p.Stage} {p.Completed}"), cts.Token);
    Console.Write("\r".PadRight(100) + "\r");

    Console.WriteLine(run.ToReport(worstClasses: 10));
    Directory.CreateDirectory(options.Output);
    var modelPath = Path.Combine(options.Output, "pokemon-resnet18-mlnet.zip");
    run.Classifier.Save(modelPath);
    await File.WriteAllTextAsync(Path.Combine(options.Output, "metrics.txt"), run.ToReport(worstClasses: 151), cts.Token);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Model: {modelPath} | report: {Path.Combine(options.Output, "metrics.txt")} | total {total.Elapsed.TotalMinutes:F1} min"));
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

internal sealed record Args(string? Data, int Seed, string Output)
{
    public static Args Parse(string[] args)
    {
        string? data = null;
        var seed = 42;
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
                default:
                    throw new ArgumentException($"Unknown argument '{args[i]}'. Usage: PokemonStudy [--data <folder|manifest.csv>] [--seed N] [--out DIR]");
            }
        }

        return new Args(data, seed, output);
    }
}

/// <summary>One status line, rewritten in place at most ten times a second.</summary>
internal sealed class ConsoleProgress<T>(Func<T, string> format) : IProgress<T>
{
    private readonly Lock _gate = new();
    private readonly Stopwatch _since = Stopwatch.StartNew();

    public void Report(T value)
    {
        lock (_gate)
        {
            if (_since.ElapsedMilliseconds < 100)
            {
                return;
            }

            _since.Restart();
            Console.Write("\r" + format(value).PadRight(60));
        }
    }
}
