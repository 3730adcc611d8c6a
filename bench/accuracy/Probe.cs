// Research probe: whole-backbone fine-tuning recipes on a split file, printing per-epoch test macro-F1.
using System.Diagnostics;
using System.Globalization;
using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Onnx;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Data;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.FineTuning;
using PokeClassifier.Training;
using static TorchSharp.torch;

internal static class Probe
{
    public static void Run(string[] args)
    {
        var a = new ProbeArgs(args);
        string Opt(string name, string fallback) => a.Text(name, fallback);
        double D(string n, double f) => a.Number(n, f);
        int I(string n, int f) => a.Integer(n, f);
        var data = a.Data;
        var size = I("--size", 128);
        var testSize = I("--test-size", size);
        var epochs = I("--epochs", 4);
        var freezeEpochs = I("--freeze-epochs", 1);
        var lr = D("--lr", 2e-3);
        var bbMult = D("--bb-mult", 0.5);
        var wd = D("--wd", 0.01);
        var smoothing = D("--ls", 0.1);
        var bn = Opt("--bn", "train");
        var batch = I("--batch", 32);
        var threads = I("--threads", 2);
        var classesLimit = I("--classes", 1000);
        var warm = D("--warmup", 0.3);
        var cropMin = D("--crop-min", 0.35);
        var mixup = D("--mixup", 0);

        TorchRuntime.EnsureInitialized(threads);
        var dataset = ImageDataset.FromFolder(data);
        var split = DatasetSplit.FromFile(dataset, Path.Combine(data, "split-80-20.csv"));
        var classes = split.Classes.Take(classesLimit).ToArray();
        var keep = classes.ToHashSet(StringComparer.Ordinal);
        var train = split.Train.Where(i => keep.Contains(i.Label)).ToArray();
        var test = split.Test.Where(i => keep.Contains(i.Label)).ToArray();
        Console.WriteLine($"{classes.Length} classes, {train.Length} train, {test.Length} test; size {size}/{testSize} epochs {freezeEpochs}+{epochs} lr {lr} bb x{bbMult} wd {wd} ls {smoothing} bn {bn} batch {batch} crop {cropMin} mixup {mixup}");
        var watch = Stopwatch.StartNew();
        var trainImages = FineTuneImages.Load(train, classes, size, 2, 100_000_000, default);
        var testImages = FineTuneImages.Load(test, classes, testSize, 2, 100_000_000, default);
        Console.WriteLine($"decoded in {watch.Elapsed.TotalSeconds:F1} s");
        var graph = BackboneGraph.For(BackboneSpec.ResNet18);
        using var module = OnnxTorchImporter.Import(graph.Model, graph.OutputName, graph.Source);
        Console.WriteLine($"blocks: {module.Blocks.Count}; nodes {module.NodeCount}");
        using var tz = new ImageTensorizer(BackboneSpec.ResNet18.Preprocessing, size);
        using var tzTest = new ImageTensorizer(BackboneSpec.ResNet18.Preprocessing, testSize);
        var head = HeadNetwork.Build(CustomHeadOptions.GlobalAveragePoolDense(), [512], classes.Length, 42);
        var aug = new AugmentationOptions { CropScaleMin = cropMin };
        var random = new Random(42);
        manual_seed(42);
        var headParams = head.parameters().ToArray();
        module.SetTrainableFrom(0);
        var bbParams = module.ParametersOf(0, module.NodeCount).ToArray();
        var groups = new List<ParameterGroup> { new("head", headParams, lr), new("backbone", bbParams, lr * bbMult) };
        var opt = new AdamOptimizer(groups, 0.9, 0.999, 1e-8, wd, decoupled: true);
        var stepsPerEpoch = (trainImages.Count + batch - 1) / batch;
        var totalSteps = epochs * stepsPerEpoch;

        // Head warm-up on frozen backbone: features computed once (no augmentation) then a few epochs of the head alone.
        if (freezeEpochs > 0)
        {
            module.eval();
            Tensor feats;
            using (no_grad())
            {
                var rows = new List<Tensor>();
                for (var s = 0; s < trainImages.Count; s += 64)
                {
                    var idx = Enumerable.Range(s, Math.Min(64, trainImages.Count - s)).ToArray();
                    using var x = tz.Batch(trainImages, idx, null, random);
                    rows.Add(module.call(x));
                }
                feats = cat(rows, 0);
                foreach (var r in rows) r.Dispose();
            }
            var headOnly = new AdamOptimizer([new("head", headParams, 1e-2)], 0.9, 0.999, 1e-8, 0, decoupled: true);
            for (var e = 0; e < freezeEpochs * 10; e++)
            {
                var order = Enumerable.Range(0, trainImages.Count).OrderBy(_ => random.Next()).ToArray();
                for (var s = 0; s < order.Length; s += batch)
                {
                    using var scope = NewDisposeScope();
                    var idx = order.Skip(s).Take(batch).Select(i => (long)i).ToArray();
                    var x = feats.index_select(0, tensor(idx));
                    var y = tensor(idx.Select(i => (long)trainImages.Labels[(int)i]).ToArray());
                    head.train();
                    var loss = ClassificationLoss.Mean(head.call(x), y, smoothing, null);
                    headOnly.ZeroGrad(); loss.backward(); headOnly.Step();
                }
            }
            feats.Dispose();
            Console.WriteLine($"head warm-up done at {watch.Elapsed.TotalSeconds:F0} s; test F1 {Evaluate(module, head, testImages, tzTest):F4}");
        }

        var step = 0;
        for (var epoch = 1; epoch <= epochs; epoch++)
        {
            var ew = Stopwatch.StartNew();
            if (bn == "train") module.train(); else module.eval();
            head.train();
            var order = Enumerable.Range(0, trainImages.Count).OrderBy(_ => random.Next()).ToArray();
            double lossSum = 0;
            for (var s = 0; s < order.Length; s += batch)
            {
                using var scope = NewDisposeScope();
                var t = (double)step / totalSteps;
                var factor = t < warm / epochs ? t / (warm / epochs) : 0.5 * (1 + Math.Cos(Math.PI * (t - warm / epochs) / (1 - warm / epochs)));
                opt.LearningRates[0] = lr * factor;
                opt.LearningRates[1] = lr * bbMult * factor;
                var idx = order.Skip(s).Take(batch).ToArray();
                var x = tz.Batch(trainImages, idx, aug, random);
                var y = tensor(idx.Select(i => (long)trainImages.Labels[i]).ToArray());
                Tensor loss;
                if (mixup > 0)
                {
                    var lam = Beta(random, mixup);
                    var perm = tensor(Enumerable.Range(0, idx.Length).OrderBy(_ => random.Next()).Select(i => (long)i).ToArray());
                    var xm = x * lam + x.index_select(0, perm) * (1 - lam);
                    var logits = head.call(module.call(xm));
                    loss = ClassificationLoss.Mean(logits, y, smoothing, null) * lam + ClassificationLoss.Mean(logits, y.index_select(0, perm), smoothing, null) * (1 - lam);
                }
                else
                {
                    loss = ClassificationLoss.Mean(head.call(module.call(x)), y, smoothing, null);
                }
                opt.ZeroGrad(); loss.backward(); opt.Step();
                lossSum += loss.item<float>() * idx.Length;
                step++;
            }
            GC.Collect();
            var trainSec = ew.Elapsed.TotalSeconds;
            var f1 = Evaluate(module, head, testImages, tzTest);
            Console.WriteLine($"epoch {epoch}: loss {lossSum / trainImages.Count:F4} test macro-F1 {f1:F4}  train {trainSec:F0} s ({1000 * trainSec / trainImages.Count:F1} ms/img) eval {ew.Elapsed.TotalSeconds - trainSec:F0} s  total {watch.Elapsed.TotalSeconds:F0} s  rss {Environment.WorkingSet >> 20} MB");
        }
    }

    private static double Beta(Random r, double a)
    {
        // Beta(a, a) via two gammas (a < 1 handled by Marsaglia-Tsang with boost).
        double G(double k) { if (k < 1) return G(k + 1) * Math.Pow(r.NextDouble(), 1 / k); var d = k - 1.0 / 3; var c = 1 / Math.Sqrt(9 * d); while (true) { double x, v; do { x = Normal(r); v = 1 + c * x; } while (v <= 0); v = v * v * v; var u = r.NextDouble(); if (u < 1 - 0.0331 * x * x * x * x || Math.Log(u) < 0.5 * x * x + d * (1 - v + Math.Log(v))) return d * v; } }
        var g1 = G(a); var g2 = G(a);
        return g1 / (g1 + g2);
    }

    private static double Normal(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    private static double Evaluate(OnnxGraphModule module, TorchSharp.torch.nn.Module<Tensor, Tensor> head, FineTuneImages images, ImageTensorizer tz)
    {
        module.eval(); head.eval();
        var preds = new int[images.Count];
        using (no_grad())
        {
            for (var s = 0; s < images.Count; s += 64)
            {
                using var scope = NewDisposeScope();
                var idx = Enumerable.Range(s, Math.Min(64, images.Count - s)).ToArray();
                var x = tz.Batch(images, idx, null, Random.Shared);
                var p = nn.functional.softmax(head.call(module.call(x)), 1) + nn.functional.softmax(head.call(module.call(x.flip(3))), 1);
                var am = p.argmax(1).data<long>().ToArray();
                for (var k = 0; k < idx.Length; k++) preds[idx[k]] = (int)am[k];
            }
        }
        return TorchTrainer.MacroF1(images.Labels, preds, images.Labels.Max() + 1);
    }
}
