using System.Diagnostics;
using System.Globalization;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training;
using TorchSharp;
using Xunit.Abstractions;

namespace PokeClassifier.Tests.Training.Custom;

/// <summary>Runs only with POKECLASSIFIER_BENCH=1 (and is excluded from tests/run.sh by its trait): measurements, not checks for CI.</summary>
public sealed class BenchFactAttribute : FactAttribute
{
    public BenchFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("POKECLASSIFIER_BENCH") != "1")
        {
            Skip = "A benchmark: set POKECLASSIFIER_BENCH=1 to run it (dotnet test -c Release --filter Category=Bench).";
        }
    }
}

/// <summary>
/// Head training on cached features at the size of the study: 5,000 rows, 151 classes, 10 epochs, batch 32, with a 500-row
/// validation set, early stopping off so that every epoch runs. Prints seconds, the per-epoch working set and the live tensor count.
/// </summary>
[Trait("Category", "Bench")]
public sealed class HeadTrainingBench(ITestOutputHelper output)
{
    [BenchFact]
    public void FlattenDense256_on_5000_VGG16_maps_512x7x7() => Time(CustomHeadOptions.FlattenDense256(), [512, 7, 7], epochs: 10);

    [BenchFact]
    public void FlattenDense256_on_5000_pooled_512() => Time(CustomHeadOptions.FlattenDense256(), [512], epochs: 10);

    [BenchFact]
    public void GlobalAveragePoolDense_on_5000_VGG16_maps_512x7x7() => Time(CustomHeadOptions.GlobalAveragePoolDense(), [512, 7, 7], epochs: 10);

    [BenchFact]
    public void Memory_over_20_epochs_of_FlattenDense256_on_5000_x_512() => Time(CustomHeadOptions.FlattenDense256(), [512], epochs: 20);

    private void Time(CustomHeadOptions head, int[] shape, int epochs)
    {
        var build = Stopwatch.StartNew();
        var train = Take(Clusters.Make(151, 34, shape, seed: 1, separation: 0.5), 5000);
        var validation = Take(Clusters.Make(151, 4, shape, seed: 2, separation: 0.5), 500);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{head.Describe()} on [{string.Join("x", shape)}] ({shape.Aggregate(1, (a, b) => a * b)} values), 5000 rows, 151 classes, {epochs} epochs, batch 32; data made in {build.Elapsed.TotalSeconds:0.0} s"));
        GC.Collect();
        var statistics = DisposeScopeManager.Statistics;
        var before = Environment.WorkingSet;
        var watch = Stopwatch.StartNew();
        var peak = before;
        using var model = HeadNetwork.Build(head, shape, 151, seed: 1);
        var summary = TorchTrainer.Train(model, train.Source(), validation.Source(), train.Classes, new TrainingOptions { Epochs = epochs, EarlyStopping = null }, seed: 1, new TrainerContext { Hooks = new TrainerHooks
        {
            EpochEnded = (e, _) =>
            {
                var ws = Environment.WorkingSet;
                peak = Math.Max(peak, ws);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"epoch {e.Epoch,2}: {e.Seconds,6:0.00} s, train loss {e.TrainLoss:0.000}, val acc {e.ValidationAccuracy:0.000}, working set {ws / (1 << 20),5} MB, managed heap {GC.GetTotalMemory(false) / (1 << 20),4} MB, GCs {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}, live tensors {statistics.ThreadTotalLiveCount}"));
            },
        } });
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"total {watch.Elapsed.TotalSeconds:0.0} s; working set before {before / (1 << 20)} MB, peak at an epoch end {peak / (1 << 20)} MB, process peak {Process.GetCurrentProcess().PeakWorkingSet64 / (1 << 20)} MB"));
        Assert.Equal(epochs, summary.History.Count);
    }

    private static Clusters Take(Clusters c, int count) => Clusters.Subset(c, count);
}
