using Microsoft.ML.OnnxRuntime;
using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Onnx;
using PokeClassifier.Data;
using PokeClassifier.Features;
using PokeClassifier.Tests.Backbones;
using Xunit.Abstractions;

namespace PokeClassifier.Tests.Features;

/// <summary>Static int8 quantization of the shipped ResNet18 and of small written backbones, run by real ONNX Runtime sessions.</summary>
public sealed class Int8QuantizationTests(ITestOutputHelper output)
{
    /// <summary>
    /// The lowest cosine similarity an int8 feature vector may have to its FP32 one on drawn images. Measured: drawn shapes calibrated on
    /// 12-24 other drawn shapes give a mean of 0.97 and a worst image of 0.93; real photos (kaggle-visible, 300 calibration images, 642
    /// test images, docs/benchmarks.md) a mean of 0.995 and a worst of 0.96. A broken quantization stays well below: full 8-bit weights,
    /// whose 16-bit pair sums saturate in ONNX Runtime's AVX2 kernels, measured a mean of 0.80 and a worst of 0.75 on these images.
    /// </summary>
    private const double MinCosine = 0.90;

    /// <summary>The mean over the images must be higher still (measured 0.97; the saturating model 0.80): a systematic error moves the mean.</summary>
    private const double MinMeanCosine = 0.95;

    private static DatasetItem[] ShapeItems(int perClass, int seed)
    {
        var root = TestImages.ShapesDataset(perClass, seed);
        return Directory.GetDirectories(root).Order(StringComparer.Ordinal)
            .SelectMany(d => Directory.GetFiles(d).Order(StringComparer.Ordinal).Select(f => new DatasetItem { Path = f, Label = Path.GetFileName(d) })).ToArray();
    }

    private static float[][] Rows(FeatureSet set) => Enumerable.Range(0, set.Items.Count).Select(set.Raw).ToArray();

    private static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += a[i] * (double)b[i];
            na += a[i] * (double)a[i];
            nb += b[i] * (double)b[i];
        }

        return dot / Math.Sqrt(na * nb);
    }

    [Fact]
    public async Task Given_ResNet18_and_drawn_images_When_featurized_at_int8_Then_the_QDQ_model_runs_and_its_features_point_as_FP32s_do()
    {
        var calibration = ShapeItems(6, 31);
        var test = ShapeItems(5, 32);
        var cache = TestImages.NewTempDir("int8");
        using var fp32 = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { CacheDirectory = cache });
        using var int8 = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions
        {
            CacheDirectory = cache,
            Precision = FeaturePrecision.Int8,
            CalibrationImages = calibration.Select(i => i.Path).ToArray(),
        });

        Assert.Equal(FeaturePrecision.Int8, int8.Precision);
        var info = Assert.IsType<QuantizationInfo>(int8.Quantization);
        Assert.False(info.FromCache);
        Assert.Equal(calibration.Length, info.CalibrationImages);
        Assert.Empty(info.Skipped);
        Assert.StartsWith(Path.Combine(Path.GetFullPath(cache), Int8Calibrator.FolderName), info.ModelPath, StringComparison.Ordinal);

        var a = await fp32.FeaturizeAsync(test);
        var b = await int8.FeaturizeAsync(test);
        Assert.Equal(test.Length, b.Computed);
        Assert.Empty(b.Failed);
        var (ra, rb) = (Rows(a), Rows(b));
        var cosines = ra.Zip(rb, Cosine).ToArray();
        output.WriteLine($"cosine int8 vs FP32 over {cosines.Length} images: mean {cosines.Average():0.0000}, min {cosines.Min():0.0000}");
        Assert.All(rb, f => Assert.Equal(512, f.Length));
        Assert.All(rb, f => Assert.All(f, v => Assert.True(float.IsFinite(v))));
        Assert.True(cosines.Min() >= MinCosine, $"lowest cosine {cosines.Min():0.0000} < {MinCosine}");
        Assert.True(cosines.Average() >= MinMeanCosine, $"mean cosine {cosines.Average():0.0000} < {MinMeanCosine}");

        // Not the FP32 features under another name: quantization changes every vector a little.
        Assert.All(ra.Zip(rb), p => Assert.NotEqual(p.First, p.Second));

        // The single-image path runs the same int8 sessions.
        Assert.Equal(rb[0], int8.Featurize(b.Items[0].Path));
    }

    [Fact]
    public void Given_ResNet18_When_quantized_Then_the_model_is_QDQ_at_opset_13_and_ONNX_Runtime_fuses_it_into_int8_kernels()
    {
        var cache = TestImages.NewTempDir("int8-graph");
        using var int8 = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions
        {
            CacheDirectory = cache,
            Precision = FeaturePrecision.Int8,
            CalibrationImages = ShapeItems(2, 41).Select(i => i.Path).ToArray(),
            Parallelism = 1,
        });
        var model = OnnxModelReader.Read(int8.Quantization!.ModelPath);
        var ops = model.Graph.Nodes.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine(string.Join(", ", ops.Select(kv => $"{kv.Key} {kv.Value}")));
        Assert.True(model.DefaultOpset >= 13);
        Assert.False(ops.ContainsKey("BatchNormalization")); // folded into the convolutions
        Assert.False(ops.ContainsKey("Relu"));               // left to the uint8 quantization (zero point 0)
        Assert.Equal(22, ops["Conv"]);

        // Every convolution takes a dequantized int8 weight with one scale per output channel, and an int32 bias.
        var byOutput = model.Graph.Nodes.SelectMany(n => n.Outputs.Select(o => (o, n))).ToDictionary(x => x.o, x => x.n);
        foreach (var conv in model.Graph.Nodes.Where(n => n.OpType == "Conv"))
        {
            var wdq = byOutput[conv.Inputs[1]];
            Assert.Equal("DequantizeLinear", wdq.OpType);
            Assert.Equal(0, wdq.Int("axis", -1));
            var q = model.Graph.Initializers[wdq.Inputs[0]];
            Assert.Equal(3, q.DataType); // int8
            Assert.All(q.Int64s!, v => Assert.InRange(v, -127, 127));
            Assert.Equal(q.Dims[0], model.Graph.Initializers[wdq.Inputs[1]].ElementCount);
            Assert.Equal(6, model.Graph.Initializers[byOutput[conv.Inputs[2]].Inputs[0]].DataType); // int32 bias
            Assert.Equal("DequantizeLinear", byOutput[conv.Inputs[0]].OpType);
        }

        // ONNX Runtime's own optimised graph: the QDQ groups became int8 operators.
        var optimised = Path.Combine(cache, "optimised.onnx");
        using (var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED, OptimizedModelFilePath = optimised, IntraOpNumThreads = 1 })
        using (new InferenceSession(int8.Quantization.ModelPath, options))
        {
        }

        var fused = OnnxModelReader.Read(optimised).Graph.Nodes.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());
        output.WriteLine("optimised: " + string.Join(", ", fused.Select(kv => $"{kv.Key} {kv.Value}")));
        Assert.Equal(22, fused.GetValueOrDefault("QLinearConv"));
        Assert.False(fused.ContainsKey("Conv"));
    }

    [Fact]
    public async Task Given_a_calibrated_model_When_a_second_featurizer_uses_the_same_images_Then_no_calibration_runs_and_features_are_the_same()
    {
        var calibration = ShapeItems(3, 51).Select(i => i.Path).ToArray();
        var test = ShapeItems(2, 52);
        var cache = TestImages.NewTempDir("int8-cache");
        var options = new FeaturizerOptions { CacheDirectory = cache, Precision = FeaturePrecision.Int8, CalibrationImages = calibration };
        float[][] first;
        string identity, modelPath;
        using (var a = new ImageFeaturizer(BackboneSpec.ResNet18, options))
        {
            Assert.False(a.Quantization!.FromCache);
            first = Rows(await a.FeaturizeAsync(test));
            identity = a.Identity;
            modelPath = a.Quantization.ModelPath;
        }

        var written = File.GetLastWriteTimeUtc(modelPath);
        using var b = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions
        {
            CacheDirectory = cache,
            Precision = FeaturePrecision.Int8,
            CalibrationImages = [.. calibration.Reverse()], // the same set in another order is the same calibration
        });
        Assert.True(b.Quantization!.FromCache);
        Assert.Equal(modelPath, b.Quantization.ModelPath);
        Assert.Equal(written, File.GetLastWriteTimeUtc(modelPath));
        Assert.Equal(calibration.Length, b.Quantization.CalibrationImages);
        Assert.Equal(identity, b.Identity);
        var second = await b.FeaturizeAsync(test);
        Assert.Equal(test.Length, second.CacheHits);
        Assert.Equal(first, Rows(second));

        // The calibration set is kept next to the model: every image with its SHA-256, and the measured ranges.
        var record = File.ReadAllText(Path.ChangeExtension(modelPath, ".json"));
        Assert.All(calibration, p => Assert.Contains(Path.GetFileName(p), record, StringComparison.Ordinal));
        Assert.Contains("Ranges", record, StringComparison.Ordinal);

        // Other calibration images are another model and another identity.
        using var c = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions
        {
            CacheDirectory = cache,
            Precision = FeaturePrecision.Int8,
            CalibrationImages = calibration.Take(2).ToArray(),
        });
        Assert.False(c.Quantization!.FromCache);
        Assert.NotEqual(modelPath, c.Quantization.ModelPath);
        Assert.NotEqual(identity, c.Identity);
        Assert.Equal(2, Directory.GetFiles(Path.Combine(cache, Int8Calibrator.FolderName), "*.onnx").Length);
        Assert.Empty(Directory.GetFiles(Path.Combine(cache, Int8Calibrator.FolderName), "*.tmp"));
    }

    [Fact]
    public async Task Given_each_precision_When_featurizing_the_same_images_Then_each_has_its_own_cache_identity_and_entries()
    {
        var items = ShapeItems(2, 61);
        var cache = TestImages.NewTempDir("int8-identity");
        using var fp32 = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { CacheDirectory = cache });
        using var int8 = new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { CacheDirectory = cache, Precision = FeaturePrecision.Int8 });

        // Without calibration images, the first call's images are the calibration set; the identity exists from then on.
        Assert.Null(int8.Quantization);
        var e = Assert.Throws<InvalidOperationException>(() => int8.Identity);
        Assert.Contains("CalibrationImages", e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => int8.Featurize(items[0].Path));

        var a = await fp32.FeaturizeAsync(items);
        var b = await int8.FeaturizeAsync(items);
        Assert.Equal(items.Length, a.Computed);
        Assert.Equal(items.Length, b.Computed); // FP32 entries never stand in for int8 ones
        Assert.Equal(items.Length, int8.Quantization!.CalibrationImages);
        Assert.NotEqual(fp32.Identity, int8.Identity);
        Assert.Equal(ImageFeaturizer.ComputeIdentity(fp32.Backbone), fp32.Identity); // FP32 keys are unchanged
        Assert.Equal(2 * items.Length, fp32.Cache!.CountEntries());
        Assert.Contains("int8", File.ReadAllText(Path.Combine(cache, int8.Identity, "backbone.txt")), StringComparison.Ordinal);
    }

    [Fact]
    public void Given_a_small_backbone_with_a_Gemm_head_When_quantized_Then_its_features_follow_FP32()
    {
        var dir = TestImages.NewTempDir("int8-small");
        var spec = new BackboneSpec
        {
            Name = "pooled",
            ModelPath = TestBackbones.Pooled(dir, size: 64, features: 12),
            InputWidth = 64,
            InputHeight = 64,
            FeatureLength = 12,
            Preprocessing = ImagePreprocessing.TorchImageNet,
        };
        var images = ShapeItems(4, 71).Select(i => i.Path).ToArray();
        using var fp32 = new ImageFeaturizer(spec, new FeaturizerOptions { UseCache = false });
        using var int8 = new ImageFeaturizer(spec, new FeaturizerOptions { CacheDirectory = dir, Precision = FeaturePrecision.Int8, CalibrationImages = images });
        var model = OnnxModelReader.Read(int8.Quantization!.ModelPath);
        Assert.Equal(3, model.Graph.Nodes.Count(n => n.OpType == "DequantizeLinear" && model.Graph.Initializers.TryGetValue(n.Inputs[0], out var t) && t.DataType == 3));
        var cosines = images.Select(p => Cosine(fp32.Featurize(p), int8.Featurize(p))).ToArray();
        output.WriteLine($"small backbone cosine: mean {cosines.Average():0.0000}, min {cosines.Min():0.0000}");
        Assert.True(cosines.Min() >= MinCosine, $"lowest cosine {cosines.Min():0.0000}");
    }

    [Fact]
    public void Given_bad_int8_options_When_validated_Then_each_problem_is_named()
    {
        var e = Assert.Throws<ArgumentException>(() => new FeaturizerOptions
        {
            CalibrationImages = ["a.png"],
            CalibrationImageCount = 0,
            Precision = (FeaturePrecision)7,
            Calibration = (CalibrationMethod)9,
        }.Validate());
        Assert.Contains("CalibrationImageCount must be between 1 and 100000 (was 0)", e.Message, StringComparison.Ordinal);
        Assert.Contains("Precision must be one of Fp32, Int8, Bf16 (was 7)", e.Message, StringComparison.Ordinal);
        Assert.Contains("Calibration must be one of MinMax, Percentile (was 9)", e.Message, StringComparison.Ordinal);
        Assert.Contains("CalibrationImages is used only with Precision Int8", e.Message, StringComparison.Ordinal);

        var empty = Assert.Throws<ArgumentException>(() => new FeaturizerOptions { Precision = FeaturePrecision.Int8, CalibrationImages = [] }.Validate());
        Assert.Contains("CalibrationImages must not be empty", empty.Message, StringComparison.Ordinal);
        var blank = Assert.Throws<ArgumentException>(() => new FeaturizerOptions { Precision = FeaturePrecision.Int8, CalibrationImages = ["a.png", " "] }.Validate());
        Assert.Contains("must not contain null or empty paths", blank.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_calibration_images_none_of_which_decode_When_an_int8_featurizer_is_created_Then_the_error_lists_them()
    {
        var dir = TestImages.NewTempDir("int8-bad");
        var text = Path.Combine(dir, "notes.png");
        File.WriteAllText(text, "not an image");
        var missing = Path.Combine(dir, "missing.png");
        var e = Assert.Throws<PokeClassifierException>(() => new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions
        {
            CacheDirectory = dir,
            Precision = FeaturePrecision.Int8,
            CalibrationImages = [text, missing],
        }));
        Assert.Contains("none of the 2 given could be used", e.Message, StringComparison.Ordinal);
        Assert.Contains("missing.png", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_this_machine_When_Bf16_is_asked_for_Then_the_error_names_what_is_missing()
    {
        if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64 &&
            File.Exists("/proc/cpuinfo") && File.ReadAllText("/proc/cpuinfo").Contains(" bf16", StringComparison.Ordinal))
        {
            return; // the one platform where ONNX Runtime's CPU provider has bf16 kernels
        }

        var e = Assert.Throws<NotSupportedException>(() => new ImageFeaturizer(BackboneSpec.ResNet18, new FeaturizerOptions { Precision = FeaturePrecision.Bf16, UseCache = false }));
        output.WriteLine(e.Message);
        Assert.Contains("Bf16", e.Message, StringComparison.Ordinal);
        Assert.Contains("ARM64", e.Message, StringComparison.Ordinal);
        if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64)
        {
            Assert.Contains("AVX-512 BF16", e.Message, StringComparison.Ordinal);
            Assert.Contains("X64", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Given_an_opset_8_graph_with_an_operator_that_changed_by_13_When_quantized_Then_the_operator_is_named()
    {
        var dir = TestImages.NewTempDir("int8-opset");
        var g = new OnnxGraphBuilder("softmaxed", opsetVersion: 8)
            .AddInput("input", [1, 3, 8, 8])
            .AddInitializer("w", [4, 3, 3, 3], TestBackbones.Random(new Random(3), 4 * 27, 0.5f))
            .AddNode("Conv", ["input", "w"], ["c"], OnnxAttribute.Ints("kernel_shape", 3, 3))
            .AddNode("Flatten", ["c"], ["f"])
            .AddNode("Softmax", ["f"], ["features"])
            .AddOutput("features", [1, 144]);
        var path = Path.Combine(dir, "softmaxed.onnx");
        g.Save(path);
        var graph = BackboneGraph.For(new BackboneSpec { Name = "s", ModelPath = path, FeatureLength = 144, InputWidth = 8, InputHeight = 8, Preprocessing = ImagePreprocessing.TorchImageNet });
        var e = Assert.Throws<NotSupportedException>(() => OnnxQuantizer.Plan(graph, [1, 3, 8, 8]));
        Assert.Contains("opset 8", e.Message, StringComparison.Ordinal);
        Assert.Contains("Softmax", e.Message, StringComparison.Ordinal);
    }
}
