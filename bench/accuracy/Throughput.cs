// Forward + backward throughput of ResNet18 in TorchSharp, in one process: the whole backbone (whole-backbone fine-tuning) beside
// inference at 128, 160 and 224, then the cached recipe's own loop (the last blocks trained on the activations at their cut) at the
// sizes the budget planner picks, for several batch sizes and in both memory layouts (NCHW, and channels-last strides, which
// libtorch's oneDNN convolutions follow when the input has them).
// Usage: Accuracy throughput [THREADS] [--blocks B (2)] [--batches 16,32,64] [--sizes 224,256,288]
using System.Diagnostics;
using System.Globalization;
using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Onnx;
using PokeClassifier.Backbones.Torch;
using static TorchSharp.torch;

internal static class Throughput
{
    /// <summary>ResNet18 of Microsoft.ML.DnnImageFeaturizer.ResNet18: 2.04 GMAC = 4.09 GFLOP per 224 x 224 image (counted from the graph), scaling with the pixel count.</summary>
    private const double GflopAt224 = 4.09;

    private static readonly bool[] Layouts = [false, true];

    public static void Run(string[] args)
    {
        string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        static int[] Ints(string text) => text.Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray();
        var threads = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? int.Parse(args[0], CultureInfo.InvariantCulture) : Environment.ProcessorCount;
        var blocks = int.Parse(Option("--blocks", "2"), CultureInfo.InvariantCulture);
        var batches = Ints(Option("--batches", "16,32,64"));
        var sizes = Ints(Option("--sizes", "224,256,288"));
        TorchRuntime.EnsureInitialized(threads);
        var graph = BackboneGraph.For(BackboneSpec.ResNet18);
        using var module = OnnxTorchImporter.Import(graph.Model, graph.OutputName, graph.Source);
        Console.WriteLine($"libtorch threads {threads}; {Environment.ProcessorCount} cores");
        Console.WriteLine();
        Console.WriteLine("Whole backbone, batch 32:");
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

        var cut = module.Blocks[module.Blocks.Count - blocks].Start;
        var frontier = module.Frontier(cut).Single();
        module.SetTrainableFrom(cut);
        Console.WriteLine();
        Console.WriteLine($"The cached recipe's loop: the last {blocks} blocks trained (from '{module.Blocks[module.Blocks.Count - blocks].FirstNodeName}') on activations at the cut, forward + backward:");
        Console.WriteLine("size  batch  NCHW img/s  channels-last img/s  channels-last / NCHW");
        foreach (var size in sizes)
        {
            long[] shape;
            using (NewDisposeScope())
            using (no_grad())
            {
                module.eval();
                shape = module.RunPrefix(zeros(1, 3, size, size), cut)[frontier].shape[1..];
            }

            foreach (var batch in batches)
            {
                var rates = Layouts.Select(channelsLast => batch / Time(() =>
                {
                    using var scope = NewDisposeScope();
                    module.train();
                    var input = randn([batch, .. shape]);
                    if (channelsLast)
                    {
                        // The same values with NHWC strides: TorchSharp has no memory_format argument, so the strides come from a permute.
                        input = input.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
                    }

                    module.RunSuffix(new Dictionary<string, Tensor>(StringComparer.Ordinal) { [frontier] = input }, cut).mean().backward();
                })).ToArray();
                Console.WriteLine($"{size,4}  {batch,5}  {rates[0],10:0.0}  {rates[1],19:0.0}  {rates[1] / rates[0],20:0.00}");
            }
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
