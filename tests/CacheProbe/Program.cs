// Usage: CacheProbe <cache dir> <image>... — featurizes the images one at a time (so a kill lands mid-run) and prints "done".
//        CacheProbe fetch <url> <sha256> <weights dir> <file name> — resolves one weights file through the WeightStore (the tests
//        start two at once to check that concurrent processes end with one good copy); prints "resolved <path>", or the error and exits 2.
//        CacheProbe draw <folder> <classes> <frames per animation> — writes a drawn dataset (tests/PokeClassifier.Tests/DrawnAnimations.cs),
//        one folder per class, for the package checks; prints its class names.
//        CacheProbe shard <cache dir> <i/n> <folder> — featurizes shard i of n of a folder-per-class dataset into the cache (one
//        session, one thread); prints "shard i/n: <images> images, <computed> computed".
using PokeClassifier;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Features;

if (args.Length == 4 && args[0] == "draw")
{
    var drawn = PokeClassifier.Tests.DrawnAnimations.Write(args[1], int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture));
    Console.WriteLine(string.Join(' ', drawn.Classes));
    return 0;
}

if (args.Length == 4 && args[0] == "shard")
{
    var shard = ShardSpec.Parse(args[2]);
    var dataset = await ImageDataset.FromFolderAsync(args[3]);
    var mine = shard.Select(dataset.Items);
    using var sharded = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { CacheDirectory = args[1], Parallelism = 1 });
    var result = await sharded.FeaturizeAsync(mine);
    Console.WriteLine($"shard {shard}: {mine.Count} images, {result.Computed} computed");
    return result.Failed.Count == 0 ? 0 : 3;
}

if (args.Length == 5 && args[0] == "fetch")
{
    var store = new WeightStore(new WeightStoreOptions { CacheDirectory = args[3], Timeout = TimeSpan.FromSeconds(20), RetryDelay = TimeSpan.FromMilliseconds(50), LockTimeout = TimeSpan.FromSeconds(60) });
    var source = new WeightSource { Url = new Uri(args[1]), Sha256 = args[2], FileName = args[4], Format = WeightFormat.Onnx };
    try
    {
        Console.WriteLine("resolved " + await store.ResolveAsync(source));
        return 0;
    }
    catch (WeightsUnavailableException e)
    {
        Console.Error.WriteLine(e.Message);
        return 2;
    }
}

var cache = args[0];
var items = args.Skip(1).Select(p => new DatasetItem { Path = p, Label = "x" }).ToArray();
using var featurizer = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { CacheDirectory = cache, Parallelism = 1 });
foreach (var item in items)
{
    await featurizer.FeaturizeAsync([item]);
    Console.WriteLine($"featurized {item.Path}");
}

Console.WriteLine("done");
return 0;
