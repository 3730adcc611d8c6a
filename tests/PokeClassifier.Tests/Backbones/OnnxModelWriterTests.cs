using Microsoft.ML.OnnxRuntime;
using PokeClassifier.Backbones.Onnx;

namespace PokeClassifier.Tests.Backbones;

public sealed class OnnxModelWriterTests
{
    private static float[] Run(InferenceSession session, string input, float[] data, long[] shape, string output, out long[] outShape)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(data, shape);
        using var options = new RunOptions();
        using var results = session.Run(options, [input], [value], [output]);
        outShape = results[0].GetTensorTypeAndShape().Shape;
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    [Fact]
    public void Given_a_graph_with_every_attribute_kind_When_run_by_OnnxRuntime_Then_it_computes_the_expected_numbers()
    {
        // x [batch,2] -> Gemm(alpha float, transB int) -> Add(Constant value_floats) -> LeakyRelu(alpha float) -> y [batch,3]
        var w = new float[] { 1, 2, 3, 4, 5, 6 }; // [3,2]
        var g = new OnnxGraphBuilder("attributes")
            .AddInput("x", [OnnxDim.Batch, 2])
            .AddInitializer("w", [3, 2], w)
            .AddNode("Gemm", ["x", "w"], ["gemm"], OnnxAttribute.Float("alpha", 0.5f), OnnxAttribute.Int("transB", 1))
            .AddNode("Constant", [], ["bias"], OnnxAttribute.Floats("value_floats", -10f, 0f, 1f))
            .AddNode("Add", ["gemm", "bias"], ["sum"])
            .AddNode("LeakyRelu", ["sum"], ["y"], OnnxAttribute.Float("alpha", 0.25f))
            .AddOutput("y", [OnnxDim.Batch, 3]);
        using var session = new InferenceSession(g.ToBytes());

        var y = Run(session, "x", [1, 1, 2, -1], [2, 2], "y", out var shape);

        Assert.Equal([2L, 3L], shape);
        // row 0: 0.5*[3,7,11] + [-10,0,1] = [-8.5, 3.5, 6.5] -> leaky: [-2.125, 3.5, 6.5]
        // row 1: 0.5*[0,2,4] + [-10,0,1] = [-10, 1, 3] -> [-2.5, 1, 3]
        Assert.Equal([-2.125f, 3.5f, 6.5f, -2.5f, 1f, 3f], y);
    }

    [Fact]
    public void Given_a_conv_with_ints_and_string_attributes_When_run_Then_it_matches_a_hand_computed_convolution()
    {
        // 1 channel 3x3 input, 2x2 kernel of ones, stride 1, SAME_UPPER padding (string attribute) -> 3x3 output.
        var g = new OnnxGraphBuilder("conv")
            .AddInput("x", [1, 1, 3, 3])
            .AddInitializer("k", [1, 1, 2, 2], [1f, 1f, 1f, 1f])
            .AddNode("Conv", ["x", "k"], ["y"], OnnxAttribute.Ints("kernel_shape", 2, 2), OnnxAttribute.Ints("strides", 1, 1), OnnxAttribute.String("auto_pad", "SAME_UPPER"))
            .AddOutput("y", [1, 1, 3, 3]);
        using var session = new InferenceSession(g.ToBytes());

        var y = Run(session, "x", [1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3], "y", out _);

        Assert.Equal([12f, 16f, 9f, 24f, 28f, 15f, 15f, 17f, 9f], y);
    }

    [Fact]
    public void Given_an_int64_initializer_When_used_as_a_reshape_target_Then_the_output_takes_that_shape()
    {
        var g = new OnnxGraphBuilder("reshape")
            .AddInput("x", [OnnxDim.Batch, 2, 3])
            .AddInt64Initializer("shape", [2], [-1, 6])
            .AddNode("Reshape", ["x", "shape"], ["y"])
            .AddOutput("y", [OnnxDim.Batch, 6]);
        using var session = new InferenceSession(g.ToBytes());

        var y = Run(session, "x", [.. Enumerable.Range(0, 12).Select(i => (float)i)], [2, 2, 3], "y", out var shape);

        Assert.Equal([2L, 6L], shape);
        Assert.Equal(11f, y[^1]);
    }

    [Fact]
    public void Given_a_small_CNN_with_a_symbolic_batch_When_loaded_Then_metadata_names_the_dimension_and_batches_run()
    {
        var dir = TestImages.NewTempDir("writer");
        var path = TestBackbones.Pooled(dir, size: 32, features: 10);
        using var session = new InferenceSession(path);

        Assert.Equal("PokeClassifier", session.ModelMetadata.ProducerName);
        Assert.Equal("pooled", session.ModelMetadata.GraphName);
        var input = session.InputMetadata["input"];
        Assert.Equal([-1, 3, 32, 32], input.Dimensions);
        Assert.Equal("batch", input.SymbolicDimensions[0]);
        Assert.Equal([-1, 10], session.OutputMetadata["features"].Dimensions);

        var rng = new Random(3);
        var one = TestBackbones.Random(rng, 3 * 32 * 32, 1f);
        var two = one.Concat(TestBackbones.Random(rng, 3 * 32 * 32, 1f)).ToArray();
        var single = Run(session, "input", one, [1, 3, 32, 32], "features", out _);
        var batch = Run(session, "input", two, [2, 3, 32, 32], "features", out var shape);
        Assert.Equal([2L, 10L], shape);
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(single[i], batch[i], 5);
        }

        Assert.NotEqual(batch[..10], batch[10..]);
    }

    [Fact]
    public void Given_the_bytes_When_read_as_protobuf_Then_the_model_header_fields_come_first()
    {
        var bytes = new OnnxGraphBuilder("g", opsetVersion: 13, producerName: "p")
            .AddInput("x", [1])
            .AddNode("Identity", ["x"], ["y"])
            .AddOutput("y", [1])
            .ToBytes();

        // field 1 (ir_version) varint 8, then field 2 (producer_name) "p".
        Assert.Equal(new byte[] { 0x08, 0x08, 0x12, 0x01, (byte)'p' }, bytes[..5]);
        // ends with opset_import (field 8): domain "" (field 1) and version 13 (field 2).
        Assert.Equal(new byte[] { 0x42, 0x04, 0x0A, 0x00, 0x10, 0x0D }, bytes[^6..]);
        using var session = new InferenceSession(bytes);
        Assert.Equal([1], session.OutputMetadata["y"].Dimensions);
    }

    [Fact]
    public void Given_an_initializer_whose_dims_do_not_hold_its_values_When_added_Then_the_error_says_how_many()
    {
        var e = Assert.Throws<ArgumentException>(() => new OnnxGraphBuilder("g").AddInitializer("w", [2, 3], new float[5]));
        Assert.Contains("[2,3] hold 6 values, 5 given", e.Message, StringComparison.Ordinal);
    }
}
