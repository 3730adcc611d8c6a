using Microsoft.ML.OnnxRuntime;
using PokeClassifier.Backbones;
using PokeClassifier.Backbones.Onnx;
using PokeClassifier.Backbones.Torch;
using PokeClassifier.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace PokeClassifier.Tests.Backbones.Torch;

public sealed class OnnxTorchImporterTests
{
    private static readonly Lazy<OnnxModel> ResNet18Model = new(() => OnnxModelReader.Read(BackboneSpec.ResNet18.ModelPath));

    internal static float[] RunOrt(string modelPath, string input, string output, float[] data, long[] shape)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(modelPath, options);
        return RunOrt(session, input, output, data, shape);
    }

    internal static float[] RunOrt(InferenceSession session, string input, string output, float[] data, long[] shape)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(data, shape);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [input], [value], [output]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    internal static float[] RunTorch(OnnxGraphModule module, float[] data, long[] shape)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return module.call(tensor(data, shape)).contiguous().data<float>().ToArray();
    }

    /// <summary>The ResNet18 input of a real image, preprocessed as the library does (RGB minus ML.NET's BGR mean image).</summary>
    internal static float[] ResNet18Input(string imagePath)
    {
        var spec = BackboneSpec.ResNet18;
        var preprocessor = new Preprocessor(spec.Preprocessing, 224, 224);
        var rgba = ImageDecoder.DecodeRgba(File.ReadAllBytes(imagePath), imagePath, 224, 224);
        var values = new float[preprocessor.TensorLength];
        preprocessor.Fill(rgba, values);
        return values;
    }

    [Fact]
    public void Given_MLNets_ResNet18_When_read_Then_its_CNTK_op_set_float_data_weights_and_io_are_as_inspected()
    {
        var model = ResNet18Model.Value;
        var ops = model.Graph.Nodes.GroupBy(n => n.OpType).ToDictionary(g => g.Key, g => g.Count());

        Assert.Equal("CNTK", model.ProducerName);
        Assert.Equal(8, model.DefaultOpset);
        Assert.Equal(new Dictionary<string, int> { ["Conv"] = 22, ["BatchNormalization"] = 22, ["Relu"] = 19, ["Add"] = 9, ["MaxPool"] = 1, ["AveragePool"] = 1 }, ops);
        var input = Assert.Single(model.Graph.DataInputs);
        Assert.Equal("Input247", input.Name);
        Assert.Equal(["1", "3", "224", "224"], input.Shape!.Select(d => d.ToString()));
        Assert.Equal("Pooling395_Output_0", Assert.Single(model.Graph.Outputs).Name);
        var stem = model.Graph.Initializers["Parameter91"];
        Assert.Equal([64L, 3, 7, 7], stem.Dims);
        Assert.Equal(64 * 3 * 7 * 7, stem.Floats!.Length);
        Assert.Equal([3L, 3, 2, 2], model.Graph.Nodes[0].Ints("pads")!); // CNTK's asymmetric stem padding
    }

    [Fact]
    public void Given_the_real_ResNet18_When_imported_Then_its_features_match_OnnxRuntime_within_1e4_on_random_and_drawn_images()
    {
        var spec = BackboneSpec.ResNet18;
        using var module = OnnxTorchImporter.Import(ResNet18Model.Value, spec.OutputName, spec.ModelPath);
        var rng = new Random(11);
        var inputs = new List<float[]>
        {
            Enumerable.Range(0, 3 * 224 * 224).Select(_ => (float)((rng.NextDouble() * 255) - 120)).ToArray(),
            Enumerable.Range(0, 3 * 224 * 224).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(),
        };
        var drawn = PokeClassifier.Tests.Training.OnnxExportTests.Drawn;
        inputs.AddRange(drawn.Take(drawn.Classes.Where((_, i) => i % 5 == 0), perClass: 1).Select(i => ResNet18Input(i.Path)));
        using var options = new SessionOptions { IntraOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(spec.ModelPath, options);

        foreach (var input in inputs)
        {
            var expected = RunOrt(session, spec.InputName, spec.OutputName, input, [1, 3, 224, 224]);
            var actual = RunTorch(module, input, [1, 3, 224, 224]);

            Assert.Equal(512, actual.Length);
            Assert.True(TorchTestNetworks.RelativeError(expected, actual) < 1e-4, $"relative error {TorchTestNetworks.RelativeError(expected, actual):E2}");
        }
    }

    [Fact]
    public void Given_the_real_ResNet18_When_cut_into_blocks_Then_there_are_a_stem_and_nine_residual_blocks_each_behind_one_tensor()
    {
        using var module = OnnxTorchImporter.Import(ResNet18Model.Value);

        // CNTK's "ResNet18" has 22 convolutions: the stem and nine basic blocks (layer4 has three), 15.9 M parameters.
        Assert.Equal(10, module.Blocks.Count);
        Assert.Equal(9408 + 128, module.Blocks[0].ParameterCount); // conv1 7x7x3x64 + bn1 scale and shift
        Assert.All(module.Blocks.Skip(1), b => Assert.Single(module.Frontier(b.Start)));
        Assert.Equal("ReLU379_Output_0", Assert.Single(module.Frontier(module.Blocks[^1].Start)));
        Assert.Equal(module.Blocks[^1].Start, module.IndexOf("ReLU379_Output_0") + 1);
        var model = ResNet18Model.Value;
        var expected = model.Graph.Nodes.Where(n => n.OpType is "Conv" or "BatchNormalization")
            .SelectMany(n => n.OpType == "Conv" ? n.Inputs.Skip(1) : n.Inputs.Skip(1).Take(2))
            .Sum(name => model.Graph.Initializers[name].ElementCount);
        Assert.Equal(15_897_152, expected);
        Assert.Equal(expected, module.Blocks.Sum(b => b.ParameterCount));
    }

    [Fact]
    public void Given_a_cut_When_the_prefix_and_suffix_run_apart_Then_they_give_the_whole_forward_and_only_the_suffix_has_gradients()
    {
        using var module = OnnxTorchImporter.Import(ResNet18Model.Value);
        var cut = module.Blocks[^2].Start;
        module.SetTrainableFrom(cut);
        var rng = new Random(3);
        var input = Enumerable.Range(0, 2 * 3 * 64 * 64).Select(_ => (float)(rng.NextDouble() * 100)).ToArray();

        using var scope = NewDisposeScope();
        var whole = module.call(tensor(input, [2, 3, 64, 64]));
        Dictionary<string, Tensor> frontier;
        using (no_grad())
        {
            frontier = module.RunPrefix(tensor(input, [2, 3, 64, 64]), cut);
        }

        var split = module.RunSuffix(frontier, cut);
        split.sum().backward();

        Assert.Equal([2L, 512, 1, 1], split.shape); // the 7x7 average pool runs as a global one at 64 x 64
        Assert.True(TorchTestNetworks.RelativeError(whole.detach().data<float>().ToArray(), split.detach().data<float>().ToArray()) < 1e-6);
        var trainable = module.ParametersOf(cut, module.NodeCount).ToList();
        Assert.All(trainable, p => Assert.NotNull(p.grad));
        Assert.All(module.ParametersOf(0, cut), p => Assert.False(p.requires_grad));
        Assert.Equal(module.Blocks[^2].ParameterCount + module.Blocks[^1].ParameterCount, trainable.Sum(p => p.numel()));
    }

    [Fact]
    public void Given_an_untouched_import_When_its_weights_are_exported_Then_they_are_the_files_initializers()
    {
        var model = ResNet18Model.Value;
        using var module = OnnxTorchImporter.Import(model);

        var weights = module.ExportWeights();

        Assert.Equal(model.Graph.Initializers.Count, weights.Count);
        foreach (var (name, values) in weights)
        {
            Assert.Equal(model.Graph.Initializers[name].Floats, values);
        }
    }

    [Fact]
    public void Given_a_graph_of_every_supported_kind_of_node_When_imported_Then_it_matches_OnnxRuntime()
    {
        var dir = TestImages.NewTempDir("importer");
        var (path, input) = WriteGraphOfEveryKind(dir);

        using var module = OnnxTorchImporter.Import(path);
        var expected = RunOrt(path, "x", "y", input, [2, 3, 17, 17]);
        var actual = RunTorch(module, input, [2, 3, 17, 17]);

        Assert.Equal(20, expected.Length);
        Assert.True(TorchTestNetworks.RelativeError(expected, actual) < 1e-5, $"relative error {TorchTestNetworks.RelativeError(expected, actual):E2}");
        Assert.Equal(2, module.Nodes.Count(n => n.OpType == "Concat"));
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void Given_an_imported_graph_When_Module_to_replaces_its_tensors_Then_it_runs_on_the_new_ones_and_computes_the_same()
    {
        // Module.to (a device, as training on a GPU does, or a dtype) replaces every parameter and buffer by a new tensor and frees the
        // old one; the graph's constants (here the Sub/Div operands) must be read through the module, not kept. A float32 -> float64 ->
        // float32 round trip is exact, so the output must be the same bits.
        var dir = TestImages.NewTempDir("importer-moved");
        var (path, input) = WriteGraphOfEveryKind(dir);
        using var module = OnnxTorchImporter.Import(path);
        var before = RunTorch(module, input, [2, 3, 17, 17]);
        var buffers = module.named_buffers().Select(b => b.buffer).ToArray();

        module.to(ScalarType.Float64);
        module.to(ScalarType.Float32);

        Assert.NotEmpty(buffers);
        Assert.All(buffers, b => Assert.True(b.IsInvalid)); // the old tensors are gone
        Assert.Equal(before, RunTorch(module, input, [2, 3, 17, 17]));
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>A graph with one node of every kind the importer takes, and an input for it.</summary>
    private static (string Path, float[] Input) WriteGraphOfEveryKind(string dir)
    {
        var path = Path.Combine(dir, "ops.onnx");
        var rng = new Random(5);
        float[] R(int n, float scale = 0.5f) => Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2) - 1) * scale).ToArray();
        new OnnxGraphBuilder("ops", opsetVersion: 13)
            .AddInput("x", [OnnxDim.Batch, 3, 17, 17])
            .AddInitializer("mean", [1, 3, 1, 1], [0.1f, -0.2f, 0.3f])
            .AddInitializer("scale", [1, 3, 1, 1], [2f, 0.5f, 1.5f])
            .AddInitializer("w1", [8, 3, 3, 3], R(216))
            .AddInitializer("b1", [8], R(8, 0.1f))
            .AddInitializer("g", [8], [.. R(8, 0.2f).Select(v => v + 1)])
            .AddInitializer("beta", [8], R(8, 0.1f))
            .AddInitializer("rm", [8], R(8, 0.1f))
            .AddInitializer("rv", [8], [.. R(8, 0.2f).Select(v => Math.Abs(v) + 0.5f)])
            .AddInitializer("wg", [8, 2, 3, 3], R(144))
            .AddInitializer("w2", [6, 8, 1, 1], R(48))
            .AddInitializer("w3", [8, 8, 2, 2], R(256))
            .AddInitializer("gemmB", [12, 10], R(120))
            .AddInitializer("gemmC", [10], R(10, 0.1f))
            .AddInitializer("mm", [10, 5], R(50))
            .AddInt64Initializer("shape", [2], [0, -1])
            .AddNode("Sub", ["x", "mean"], ["centred"])
            .AddNode("Div", ["centred", "scale"], ["normed"])
            .AddNode("Conv", ["normed", "w1", "b1"], ["c1"], OnnxAttribute.Ints("kernel_shape", 3, 3), OnnxAttribute.Ints("strides", 2, 2), OnnxAttribute.Ints("pads", 1, 1, 0, 0))
            .AddNode("BatchNormalization", ["c1", "g", "beta", "rm", "rv"], ["bn"], OnnxAttribute.Float("epsilon", 1e-3f))
            .AddNode("Relu", ["bn"], ["r1"])
            .AddNode("Conv", ["r1", "wg"], ["cg"], OnnxAttribute.Ints("kernel_shape", 3, 3), OnnxAttribute.Int("group", 4), OnnxAttribute.Ints("dilations", 2, 2), OnnxAttribute.Ints("pads", 2, 2, 2, 2))
            .AddNode("Conv", ["cg", "w3"], ["cs"], OnnxAttribute.Ints("kernel_shape", 2, 2), OnnxAttribute.Ints("strides", 2, 2), OnnxAttribute.String("auto_pad", "SAME_UPPER"))
            .AddNode("Add", ["cs", "mp0"], ["res"])
            .AddNode("MaxPool", ["r1"], ["mp0"], OnnxAttribute.Ints("kernel_shape", 2, 2), OnnxAttribute.Ints("strides", 2, 2), OnnxAttribute.String("auto_pad", "SAME_UPPER"))
            .AddNode("MaxPool", ["res"], ["mp"], OnnxAttribute.Ints("kernel_shape", 3, 3), OnnxAttribute.Ints("strides", 2, 2), OnnxAttribute.Ints("pads", 1, 1, 1, 1), OnnxAttribute.Int("ceil_mode", 1))
            .AddNode("AveragePool", ["res"], ["ap"], OnnxAttribute.Ints("kernel_shape", 3, 3), OnnxAttribute.Ints("strides", 2, 2), OnnxAttribute.Ints("pads", 1, 1, 1, 1), OnnxAttribute.Int("ceil_mode", 1), OnnxAttribute.Int("count_include_pad", 1))
            .AddNode("Sum", ["mp", "ap", "mp"], ["s"])
            .AddNode("Conv", ["s", "w2"], ["c2"], OnnxAttribute.Ints("kernel_shape", 1, 1))
            .AddNode("Concat", ["c2", "c2"], ["cat"], OnnxAttribute.Int("axis", 1))
            .AddNode("GlobalAveragePool", ["cat"], ["gap"])
            .AddNode("Flatten", ["gap"], ["flat"], OnnxAttribute.Int("axis", 1))
            .AddNode("Dropout", ["flat"], ["drop"])
            .AddNode("Identity", ["drop"], ["id"])
            .AddNode("Reshape", ["id", "shape"], ["re"])
            .AddNode("Gemm", ["re", "gemmB"], ["gemm"], OnnxAttribute.Float("alpha", 0.5f), OnnxAttribute.Float("beta", 2f))
            .AddNode("Mul", ["gemm", "gemm"], ["sq"])
            .AddNode("Concat", ["sq", "gemm"], ["both"], OnnxAttribute.Int("axis", 0))
            .AddNode("MatMul", ["both", "mm"], ["mmo"])
            .AddNode("Softmax", ["mmo"], ["y"], OnnxAttribute.Int("axis", 1))
            .AddOutput("y", [OnnxDim.Symbolic("rows"), 5])
            .Save(path);
        return (path, R(2 * 3 * 17 * 17, 3f));
    }

    [Fact]
    public void Given_an_unsupported_operator_When_imported_Then_the_error_names_the_operator_and_the_node()
    {
        var model = OnnxModelReader.Read(new OnnxGraphBuilder("bad")
            .AddInput("x", [1, 3, 8, 8])
            .AddNamedNode("Relu", "first", ["x"], ["r"])
            .AddNamedNode("LpNormalization", "the_odd_one", ["r"], ["y"])
            .AddOutput("y", [1, 3, 8, 8])
            .ToBytes(), "bad.onnx");

        var e = Assert.Throws<ModelLoadException>(() => OnnxTorchImporter.Import(model, source: "bad.onnx"));

        Assert.Contains("'LpNormalization'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'the_odd_one'", e.Message, StringComparison.Ordinal);
        Assert.Contains("bad.onnx", e.Message, StringComparison.Ordinal);
        Assert.Contains("Conv", e.Message, StringComparison.Ordinal); // the supported list
    }
}
