using PokeClassifier.Backbones.Onnx;

namespace PokeClassifier.Tests.Backbones;

public sealed class OnnxModelReaderTests
{
    [Fact]
    public void Given_a_model_written_by_the_builder_When_read_Then_nodes_attributes_initializers_shapes_and_metadata_come_back()
    {
        var bytes = new OnnxGraphBuilder("roundtrip", opsetVersion: 13)
            .AddInput("x", [OnnxDim.Batch, 3, 4, 4])
            .AddInitializer("w", [2, 3, 1, 1], [1f, 2f, 3f, 4f, 5f, -6.5f])
            .AddInt64Initializer("shape", [2], [0, -1])
            .AddNamedNode("Conv", "conv", ["x", "w"], ["c"], OnnxAttribute.Ints("kernel_shape", 1, 1), OnnxAttribute.Float("f", 0.25f), OnnxAttribute.Int("group", 1), OnnxAttribute.String("auto_pad", "VALID"), OnnxAttribute.Floats("fs", 1.5f, -2f), OnnxAttribute.Strings("names", "a", "bé"))
            .AddNode("Reshape", ["c", "shape"], ["y"])
            .AddOutput("y", [OnnxDim.Batch, 32])
            .AddOutput("labels", [OnnxDim.Batch], elementType: 8)
            .AddOpset("ai.onnx.ml", 2)
            .AddMetadata("classes", "[\"a\",\"b\"]")
            .ToBytes();

        var model = OnnxModelReader.Read(bytes);

        Assert.Equal(8, model.IrVersion);
        Assert.Equal(13, model.DefaultOpset);
        Assert.Contains(("ai.onnx.ml", 2L), model.Opsets);
        Assert.Equal("[\"a\",\"b\"]", model.Metadata["classes"]);
        Assert.Equal("roundtrip", model.Graph.Name);
        var conv = model.Graph.Nodes[0];
        Assert.Equal(("Conv", "conv"), (conv.OpType, conv.Name));
        Assert.Equal(["x", "w"], conv.Inputs);
        Assert.Equal([1L, 1], conv.Ints("kernel_shape")!);
        Assert.Equal(0.25f, conv.Float("f", 0));
        Assert.Equal("VALID", conv.String("auto_pad", ""));
        Assert.Equal([1.5f, -2f], conv.Attribute("fs")!.FloatValues);
        Assert.Equal(["a", "bé"], conv.Attribute("names")!.StringValues);
        Assert.Equal("Reshape_1", model.Graph.Nodes[1].Name);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, -6.5f], model.Graph.Initializers["w"].Floats!);
        Assert.Equal([0L, -1], model.Graph.Initializers["shape"].Int64s!);
        Assert.Equal("x [batch,3,4,4]", Assert.Single(model.Graph.DataInputs).ToString());
        Assert.Equal(8, model.Graph.Outputs[1].ElementType);
    }

    [Fact]
    public void Given_a_read_model_When_written_back_Then_the_bytes_of_its_attributes_are_unchanged()
    {
        var original = new OnnxGraphBuilder("copy")
            .AddInput("x", [1, 1, 3, 3])
            .AddInitializer("k", [1, 1, 2, 2], [1f, 1f, 1f, 1f])
            .AddNode("Conv", ["x", "k"], ["y"], OnnxAttribute.Ints("kernel_shape", 2, 2), OnnxAttribute.String("auto_pad", "SAME_UPPER"))
            .AddOutput("y", [1, 1, 3, 3])
            .ToBytes();
        var model = OnnxModelReader.Read(original);
        var copy = new OnnxGraphBuilder("copy").AddInput("x", [1, 1, 3, 3]).AddInitializer("k", [1, 1, 2, 2], model.Graph.Initializers["k"].Floats!);
        foreach (var node in model.Graph.Nodes)
        {
            copy.AddNamedNode(node.OpType, node.Name, node.Inputs, node.Outputs, [.. node.Attributes]);
        }

        Assert.Equal(original, copy.AddOutput("y", [1, 1, 3, 3]).ToBytes());
    }

    [Fact]
    public void Given_unknown_fields_and_unpacked_repeated_values_When_read_Then_they_are_skipped_or_understood()
    {
        var bytes = new OnnxGraphBuilder("unknown").AddInput("x", [1]).AddNode("Relu", ["x"], ["y"]).AddOutput("y", [1]).ToBytes();
        // Field 99 as a varint, field 98 as fixed64, field 97 as fixed32 and field 96 as bytes: a newer ONNX's additions.
        byte[] unknown = [0x98, 0x06, 0x2A, 0x91, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, 0x8D, 0x06, 1, 2, 3, 4, 0x82, 0x06, 2, 0xAB, 0xCD];

        var model = OnnxModelReader.Read([.. bytes, .. unknown]);

        Assert.Equal("Relu", Assert.Single(model.Graph.Nodes).OpType);
    }

    [Fact]
    public void Given_bytes_that_are_not_a_model_When_read_Then_a_ModelLoadException_names_the_source()
    {
        var e = Assert.Throws<ModelLoadException>(() => OnnxModelReader.Read([0x0A, 0xFF, 0x01, 0x00], "broken.onnx"));

        Assert.Contains("broken.onnx", e.Message, StringComparison.Ordinal);
    }
}
