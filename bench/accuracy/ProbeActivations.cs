// Research probe: train the last blocks of the backbone on cached activations of the frozen part, with views (the image and its
// mirror) and random crops of the activation map as augmentation, printing per-epoch test macro-F1 and timings.
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

internal static class ProbeActivations
{
    public static void Run(string[] args)
    {
        var a = new ProbeArgs(args);
        string Opt(string name, string fallback) => a.Text(name, fallback);
        double D(string n, double f) => a.Number(n, f);
        int I(string n, int f) => a.Integer(n, f);
        var data = a.Data;
        var size = I("--size", 256);
        var blocks = I("--blocks", 2);
        var epochs = I("--epochs", 8);
        var headEpochs = I("--head-epochs", 20);
        var lr = D("--lr", 1e-3);
        var bbMult = D("--bb-mult", 0.3);
        var wd = D("--wd", 0.05);
        var smoothing = D("--ls", 0.1);
        var bn = Opt("--bn", "eval");
        var batch = I("--batch", 64);
        var crop = I("--crop", 14);
        var threads = I("--threads", 2);
        var averageFrom = I("--average-from", 0);
        var mixup = D("--mixup", 0);

        TorchRuntime.EnsureInitialized(threads);
        var dataset = ImageDataset.FromFolder(data);
        var split = DatasetSplit.FromFile(dataset, Path.Combine(data, "split-80-20.csv"));
        var classes = split.Classes;
        Console.WriteLine($"{classes.Count} classes, {split.Train.Count} train, {split.Test.Count} test; size {size} blocks {blocks} epochs {headEpochs}+{epochs} lr {lr} bb x{bbMult} wd {wd} ls {smoothing} bn {bn} batch {batch} crop {crop}");
        var watch = Stopwatch.StartNew();
        var trainImages = FineTuneImages.Load(split.Train, classes, size, 2, 100_000_000, default);
        var testImages = FineTuneImages.Load(split.Test, classes, size, 2, 100_000_000, default);
        Console.WriteLine($"decoded in {watch.Elapsed.TotalSeconds:F1} s");
        var graph = BackboneGraph.For(BackboneSpec.ResNet18);
        using var module = OnnxTorchImporter.Import(graph.Model, graph.OutputName, graph.Source);
        foreach (var b in module.Blocks)
        {
            Console.WriteLine($"block {b.Index}: nodes {b.Start}-{b.End} first {b.FirstNodeName} params {b.ParameterCount}");
        }

        if (args.Contains("--list"))
        {
            return;
        }

        var cut = module.Blocks[^blocks].Start;
        var frontier = module.Frontier(cut).Single();
        using var tz = new ImageTensorizer(BackboneSpec.ResNet18.Preprocessing, size);
        module.eval();
        var (trainA, trainB) = Activations(module, cut, frontier, tz, trainImages);
        var (testA, testB) = Activations(module, cut, frontier, tz, testImages);
        Console.WriteLine($"activations {string.Join("x", trainA.shape)} in {watch.Elapsed.TotalSeconds:F0} s; rss {Environment.WorkingSet >> 20} MB");

        var head = HeadNetwork.Build(CustomHeadOptions.GlobalAveragePoolDense(), [512], classes.Count, 42);
        var random = new Random(42);
        manual_seed(42);
        module.SetTrainableFrom(cut);
        var headParams = head.parameters().ToArray();
        var bbParams = module.ParametersOf(cut, module.NodeCount).ToArray();

        // Head warm-up on the frozen suffix's output of both views.
        if (headEpochs > 0)
        {
            using var featsA = Suffix(module, cut, frontier, trainA);
            using var featsB = Suffix(module, cut, frontier, trainB);
            var headOnly = new AdamOptimizer([new("head", headParams, 1e-2)], 0.9, 0.999, 1e-8, 0, decoupled: true);
            for (var e = 0; e < headEpochs; e++)
            {
                foreach (var idx in Batches(trainImages.Count, batch, random))
                {
                    using var scope = NewDisposeScope();
                    var x = (random.Next(2) == 0 ? featsA : featsB).index_select(0, tensor(idx));
                    var y = tensor(idx.Select(i => (long)trainImages.Labels[(int)i]).ToArray());
                    head.train();
                    var loss = ClassificationLoss.Mean(head.call(x), y, smoothing, null);
                    headOnly.ZeroGrad(); loss.backward(); headOnly.Step();
                }
            }

            Console.WriteLine($"head warm-up done at {watch.Elapsed.TotalSeconds:F0} s; test F1 {Evaluate(module, head, cut, frontier, testA, testB, testImages.Labels):F4}");
        }

        var opt = new AdamOptimizer([new("head", headParams, lr), new("backbone", bbParams, lr * bbMult)], 0.9, 0.999, 1e-8, wd, decoupled: true);
        var stepsPerEpoch = (trainImages.Count + batch - 1) / batch;
        var totalSteps = epochs * stepsPerEpoch;
        var warmSteps = stepsPerEpoch / 2;
        var step = 0;
        var h = trainA.shape[2];
        var trained = bbParams.Concat(headParams).ToArray();
        Tensor[]? average = null;
        var averaged = 0;
        for (var epoch = 1; epoch <= epochs; epoch++)
        {
            var ew = Stopwatch.StartNew();
            if (bn == "train") module.train(); else module.eval();
            head.train();
            double lossSum = 0;
            foreach (var idx in Batches(trainImages.Count, batch, random))
            {
                using var scope = NewDisposeScope();
                var factor = step < warmSteps ? (step + 1.0) / warmSteps : 0.5 * (1 + Math.Cos(Math.PI * (step - warmSteps) / (totalSteps - warmSteps)));
                opt.LearningRates[0] = lr * factor;
                opt.LearningRates[1] = lr * bbMult * factor;
                var rows = new List<Tensor>(idx.Length);
                foreach (var i in idx)
                {
                    var source = random.Next(2) == 0 ? trainA : trainB;
                    var row = source[i];
                    if (crop > 0 && crop < h)
                    {
                        var oy = random.Next((int)h - crop + 1);
                        var ox = random.Next((int)h - crop + 1);
                        row = row.narrow(1, oy, crop).narrow(2, ox, crop);
                    }

                    rows.Add(row);
                }

                var x = stack(rows);
                var y = tensor(idx.Select(i => (long)trainImages.Labels[(int)i]).ToArray());
                Tensor loss;
                if (mixup > 0)
                {
                    var lambda = Beta(random, mixup);
                    var perm = tensor(Enumerable.Range(0, idx.Length).OrderBy(_ => random.Next()).Select(i => (long)i).ToArray());
                    var mixed = x * lambda + x.index_select(0, perm) * (1 - lambda);
                    var logits = head.call(module.RunSuffix(new Dictionary<string, Tensor> { [frontier] = mixed }, cut));
                    loss = ClassificationLoss.Mean(logits, y, smoothing, null) * lambda + ClassificationLoss.Mean(logits, y.index_select(0, perm), smoothing, null) * (1 - lambda);
                }
                else
                {
                    var logits = head.call(module.RunSuffix(new Dictionary<string, Tensor> { [frontier] = x }, cut));
                    loss = ClassificationLoss.Mean(logits, y, smoothing, null);
                }

                opt.ZeroGrad(); loss.backward(); opt.Step();
                lossSum += loss.item<float>() * idx.Length;
                step++;
            }

            var trainSec = ew.Elapsed.TotalSeconds;
            var f1 = Evaluate(module, head, cut, frontier, testA, testB, testImages.Labels);
            var averageText = "";
            if (averageFrom > 0 && epoch >= averageFrom)
            {
                using (no_grad())
                {
                    averaged++;
                    average ??= trained.Select(p => zeros_like(p)).ToArray();
                    for (var k = 0; k < trained.Length; k++)
                    {
                        average[k].add_((trained[k] - average[k]) / averaged);
                    }

                    var current = trained.Select(p => p.clone()).ToArray();
                    for (var k = 0; k < trained.Length; k++)
                    {
                        trained[k].copy_(average[k]);
                    }

                    averageText = $" average of {averaged} F1 {Evaluate(module, head, cut, frontier, testA, testB, testImages.Labels):F4}";
                    for (var k = 0; k < trained.Length; k++)
                    {
                        trained[k].copy_(current[k]);
                        current[k].Dispose();
                    }
                }
            }

            Console.WriteLine($"epoch {epoch}: loss {lossSum / trainImages.Count:F4} test macro-F1 {f1:F4}{averageText}  train {trainSec:F0} s ({1000 * trainSec / trainImages.Count:F1} ms/img) eval {ew.Elapsed.TotalSeconds - trainSec:F0} s  total {watch.Elapsed.TotalSeconds:F0} s  rss {Environment.WorkingSet >> 20} MB");
        }
    }

    private static float Beta(Random random, double alpha)
    {
        // Beta(alpha, alpha) from two gamma draws (Marsaglia-Tsang needs alpha >= 1: boost and scale).
        double Gamma(double a)
        {
            var boost = a < 1 ? Math.Pow(random.NextDouble(), 1 / a) : 1;
            var d = (a < 1 ? a + 1 : a) - 1.0 / 3;
            var c = 1 / Math.Sqrt(9 * d);
            while (true)
            {
                double x, v;
                do
                {
                    x = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                    v = 1 + c * x;
                }
                while (v <= 0);
                v = v * v * v;
                if (Math.Log(1 - random.NextDouble()) < 0.5 * x * x + d - d * v + d * Math.Log(v))
                {
                    return d * v * boost;
                }
            }
        }

        var g1 = Gamma(alpha);
        var g2 = Gamma(alpha);
        return (float)(g1 / (g1 + g2));
    }

    private static IEnumerable<long[]> Batches(int count, int batch, Random random)
    {
        var order = Enumerable.Range(0, count).OrderBy(_ => random.Next()).Select(i => (long)i).ToArray();
        for (var s = 0; s < order.Length; s += batch)
        {
            yield return order.Skip(s).Take(batch).ToArray();
        }
    }

    private static (Tensor Plain, Tensor Mirrored) Activations(OnnxGraphModule module, int cut, string frontier, ImageTensorizer tz, FineTuneImages images)
    {
        var plain = new List<Tensor>();
        var mirrored = new List<Tensor>();
        using (no_grad())
        {
            for (var s = 0; s < images.Count; s += 32)
            {
                var idx = Enumerable.Range(s, Math.Min(32, images.Count - s)).ToArray();
                using var scope = NewDisposeScope();
                var x = tz.Batch(images, idx, null, Random.Shared);
                plain.Add(module.RunPrefix(x, cut)[frontier].contiguous().MoveToOuterDisposeScope());
                mirrored.Add(module.RunPrefix(x.flip(3), cut)[frontier].contiguous().MoveToOuterDisposeScope());
            }
        }

        var a = cat(plain, 0);
        var b = cat(mirrored, 0);
        plain.ForEach(t => t.Dispose());
        mirrored.ForEach(t => t.Dispose());
        return (a, b);
    }

    private static Tensor Suffix(OnnxGraphModule module, int cut, string frontier, Tensor activations)
    {
        var rows = new List<Tensor>();
        using (no_grad())
        {
            for (var s = 0; s < activations.shape[0]; s += 64)
            {
                using var scope = NewDisposeScope();
                var x = activations.narrow(0, s, Math.Min(64, activations.shape[0] - s));
                rows.Add(module.RunSuffix(new Dictionary<string, Tensor> { [frontier] = x }, cut).MoveToOuterDisposeScope());
            }
        }

        var all = cat(rows, 0);
        rows.ForEach(t => t.Dispose());
        return all;
    }

    private static double Evaluate(OnnxGraphModule module, TorchSharp.torch.nn.Module<Tensor, Tensor> head, int cut, string frontier, Tensor a, Tensor b, IReadOnlyList<int> labels)
    {
        module.eval();
        head.eval();
        var preds = new int[labels.Count];
        using (no_grad())
        {
            for (var s = 0; s < labels.Count; s += 64)
            {
                using var scope = NewDisposeScope();
                var n = Math.Min(64, labels.Count - s);
                var pa = nn.functional.softmax(head.call(module.RunSuffix(new Dictionary<string, Tensor> { [frontier] = a.narrow(0, s, n) }, cut)), 1);
                var pb = nn.functional.softmax(head.call(module.RunSuffix(new Dictionary<string, Tensor> { [frontier] = b.narrow(0, s, n) }, cut)), 1);
                var am = (pa + pb).argmax(1).data<long>().ToArray();
                for (var k = 0; k < n; k++)
                {
                    preds[s + k] = (int)am[k];
                }
            }
        }

        return TorchTrainer.MacroF1(labels, preds, labels.Max() + 1);
    }
}
