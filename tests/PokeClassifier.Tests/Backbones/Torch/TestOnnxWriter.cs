using System.Buffers.Binary;
using System.Text;

namespace PokeClassifier.Tests.Backbones.Torch;

/// <summary>
/// Just enough of the ONNX protobuf (onnx.proto: ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto) to write a small
/// float CNN, so a test can run the same weights through ONNX Runtime and TorchSharp.
/// </summary>
internal sealed class TestOnnxWriter
{
    private readonly List<Message> _nodes = [];
    private readonly List<Message> _initializers = [];

    public TestOnnxWriter Initializer(string name, long[] dims, float[] values)
    {
        var raw = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * 4), values[i]);
        }

        var tensor = new Message();
        foreach (var d in dims)
        {
            tensor.Varint(1, d); // dims
        }

        _initializers.Add(tensor.Varint(2, 1).String(8, name).Bytes(9, raw)); // data_type FLOAT, name, raw_data
        return this;
    }

    public TestOnnxWriter Node(string opType, string[] inputs, string output, params (string Name, object Value)[] attributes)
    {
        var node = new Message();
        foreach (var input in inputs)
        {
            node.String(1, input);
        }

        node.String(2, output).String(3, output + "_node").String(4, opType);
        foreach (var (name, value) in attributes)
        {
            var attribute = new Message().String(1, name);
            switch (value)
            {
                case float f:
                    attribute.Float(2, f).Varint(20, 1); // f, type FLOAT
                    break;
                case long i:
                    attribute.Varint(3, i).Varint(20, 2); // i, type INT
                    break;
                case long[] ints:
                    foreach (var i in ints)
                    {
                        attribute.Varint(8, i); // ints
                    }

                    attribute.Varint(20, 7); // type INTS
                    break;
                default:
                    throw new ArgumentException($"unsupported attribute {name}");
            }

            node.Nested(5, attribute);
        }

        _nodes.Add(node);
        return this;
    }

    public void Save(string path, string input, long[] inputShape, string output, long[] outputShape)
    {
        var graph = new Message();
        foreach (var node in _nodes)
        {
            graph.Nested(1, node);
        }

        graph.String(2, "test-graph");
        foreach (var initializer in _initializers)
        {
            graph.Nested(5, initializer);
        }

        graph.Nested(11, ValueInfo(input, inputShape)).Nested(12, ValueInfo(output, outputShape));
        var model = new Message()
            .Varint(1, 7) // ir_version
            .String(2, "PokeClassifier.Tests")
            .Nested(7, graph)
            .Nested(8, new Message().String(1, string.Empty).Varint(2, 13)); // opset_import: ai.onnx 13
        File.WriteAllBytes(path, model.ToArray());
    }

    private static Message ValueInfo(string name, long[] shape)
    {
        var dims = new Message();
        foreach (var d in shape)
        {
            dims.Nested(1, new Message().Varint(1, d)); // dim { dim_value }
        }

        var tensorType = new Message().Varint(1, 1).Nested(2, dims); // elem_type FLOAT, shape
        return new Message().String(1, name).Nested(2, new Message().Nested(1, tensorType));
    }

    private sealed class Message
    {
        private readonly MemoryStream _bytes = new();

        public Message Varint(int field, long value)
        {
            Key(field, 0);
            Raw((ulong)value);
            return this;
        }

        public Message Float(int field, float value)
        {
            Key(field, 5);
            Span<byte> buffer = stackalloc byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(buffer, value);
            _bytes.Write(buffer);
            return this;
        }

        public Message Bytes(int field, byte[] value)
        {
            Key(field, 2);
            Raw((ulong)value.Length);
            _bytes.Write(value);
            return this;
        }

        public Message String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public Message Nested(int field, Message value) => Bytes(field, value.ToArray());

        public byte[] ToArray() => _bytes.ToArray();

        private void Key(int field, int wireType) => Raw((ulong)((field << 3) | wireType));

        private void Raw(ulong value)
        {
            while (value >= 0x80)
            {
                _bytes.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }

            _bytes.WriteByte((byte)value);
        }
    }
}
