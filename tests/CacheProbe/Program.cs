// Usage: CacheProbe <cache dir> <image>... — featurizes the images one at a time (so a kill lands mid-run) and prints "done".
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Features;

var cache = args[0];
var items = args.Skip(1).Select(p => new DatasetItem { Path = p, Label = "x" }).ToArray();
using var featurizer = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { CacheDirectory = cache, Parallelism = 1 });
foreach (var item in items)
{
    await featurizer.FeaturizeAsync([item]);
    Console.WriteLine($"featurized {item.Path}");
}

Console.WriteLine("done");
