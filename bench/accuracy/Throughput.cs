// Forward + backward throughput of the whole backbone (the fine-tuning cost) beside inference, at 128, 160 and 224, in one process.
using System.Diagnostics;
using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Onnx;
using PokeClassifier.Backbones.Torch;
using static TorchSharp.torch;

internal static class Throughput
{
    /// <summary>ResNet18 of Microsoft.ML.DnnImageFeaturizer.ResNet18: 2.04 GMAC = 4.09 GFLOP per 224 x 224 image (counted from the graph), scaling with the pixel count.</summary>
    private const double GflopAt224 = 4.09;

    public static void Run(string[] args)
    {
        var threads = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : Environment.ProcessorCount;
        TorchRuntime.EnsureInitialized(threads);
        var graph = BackboneGraph.For(BackboneSpec.ResNet18);
        using var module = OnnxTorchImporter.Import(graph.Model, graph.OutputName, graph.Source);
        Console.WriteLine($"libtorch threads {threads}; {Environment.ProcessorCount} cores");
        Console.WriteLine("size  batch  train img/s  train GFLOP/s  infer img/s  infer GFLOP/s  train/infer");
        foreach (var size in new[] { 128, 160, 224 })
        {
            const int Batch = 32;
            var gflop = GflopAt224 * size * size / (224.0 * 224.0);
            module.SetTrainableFrom(0);
            module.train();
            var train = Time(() =>
            {
                using var scope = NewDisposeScope();
                module.call(randn(Batch, 3, size, size)).mean().backward();
            }) / Batch;
            module.eval();
            var infer = Time(() =>
            {
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                module.call(randn(Batch, 3, size, size));
            }) / Batch;
            Console.WriteLine($"{size,4}  {Batch,5}  {1 / train,11:0.0}  {3 * gflop / train,13:0.0}  {1 / infer,11:0.0}  {gflop / infer,13:0.0}  {train / infer,11:0.00}");
        }
    }

    /// <summary>Seconds per call: one warm-up call, then the mean of three.</summary>
    private static double Time(Action step)
    {
        step();
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 3; i++)
        {
            step();
        }

        return watch.Elapsed.TotalSeconds / 3;
    }
}
