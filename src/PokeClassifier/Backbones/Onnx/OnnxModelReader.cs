using System.Buffers.Binary;
using System.Text;

namespace PokeClassifier.Backbones.Onnx;

/// <summary>
/// Reads an ONNX model (<c>ModelProto</c>) without any protobuf dependency, the counterpart of <see cref="OnnxGraphBuilder"/>: the
/// model's opsets, metadata and graph — nodes with their attributes, initializers (<c>raw_data</c> or the typed
/// <c>float_data</c>/<c>int32_data</c>/<c>int64_data</c>/<c>double_data</c> fields, packed or not), inputs, outputs and value infos.
/// Fields it does not know are skipped, as protobuf requires; tensors stored outside the file (external data) are refused.
/// </summary>
internal static class OnnxModelReader
{
    private const int Int32Type = 6;
    private const int DoubleType = 11;
    private const int BoolType = 9;
    private const int UInt8Type = 2;
    private const int Int8Type = 3;

    /// <summary>Reads a model file.</summary>
    /// <exception cref="ModelLoadException">The file is missing or is not a readable ONNX model.</exception>
    public static OnnxModel Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new ModelLoadException($"ONNX model '{path}' does not exist.");
        }

        return Read(File.ReadAllBytes(path), path);
    }

    /// <summary>Reads a model from its bytes; <paramref name="source"/> names it in error messages.</summary>
    /// <exception cref="ModelLoadException">The bytes are not a readable ONNX model.</exception>
    public static OnnxModel Read(byte[] bytes, string source = "model")
    {
        ArgumentNullException.ThrowIfNull(bytes);
        try
        {
            return ReadModel(new ProtoReader(bytes), source);
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentOutOfRangeException or IndexOutOfRangeException or OverflowException)
        {
            throw new ModelLoadException($"ONNX model '{source}' could not be read: {e.Message}", e);
        }
    }

    private static OnnxModel ReadModel(ProtoReader r, string source)
    {
        long ir = 0;
        string producer = string.Empty, producerVersion = string.Empty;
        var opsets = new List<(string, long)>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        OnnxGraph? graph = null;
        while (r.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1 when wire == ProtoReader.Varint: ir = r.ReadInt64(); break;
                case 2 when wire == ProtoReader.Bytes: producer = r.ReadString(); break;
                case 3 when wire == ProtoReader.Bytes: producerVersion = r.ReadString(); break;
                case 7 when wire == ProtoReader.Bytes: graph = ReadGraph(r.ReadMessage(), source); break;
                case 8 when wire == ProtoReader.Bytes: opsets.Add(ReadOpset(r.ReadMessage())); break;
                case 14 when wire == ProtoReader.Bytes:
                    var (key, value) = ReadEntry(r.ReadMessage());
                    metadata[key] = value;
                    break;
                default: r.Skip(wire); break;
            }
        }

        return new OnnxModel
        {
            IrVersion = ir,
            ProducerName = producer,
            ProducerVersion = producerVersion,
            Opsets = opsets,
            Metadata = metadata,
            Graph = graph ?? throw new InvalidDataException("the model has no graph"),
        };
    }

    private static (string, long) ReadOpset(ProtoReader r)
    {
        string domain = string.Empty;
        long version = 0;
        while (r.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1 when wire == ProtoReader.Bytes: domain = r.ReadString(); break;
                case 2 when wire == ProtoReader.Varint: version = r.ReadInt64(); break;
                default: r.Skip(wire); break;
            }
        }

        return (domain, version);
    }

    private static (string, string) ReadEntry(ProtoReader r)
    {
        string key = string.Empty, value = string.Empty;
        while (r.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1 when wire == ProtoReader.Bytes: key = r.ReadString(); break;
                case 2 when wire == ProtoReader.Bytes: value = r.ReadString(); break;
                default: r.Skip(wire); break;
            }
        }

        return (key, value);
    }

    private static OnnxGraph ReadGraph(ProtoReader r, string source)
    {
        var name = string.Empty;
        var nodes = new List<OnnxNode>();
        var initializers = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        var inputs = new List<OnnxValueInfo>();
        var outputs = new List<OnnxValueInfo>();
        var valueInfos = new List<OnnxValueInfo>();
        while (r.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1 when wire == ProtoReader.Bytes: nodes.Add(ReadNode(r.ReadMessage())); break;
                case 2 when wire == ProtoReader.Bytes: name = r.ReadString(); break;
                case 5 when wire == ProtoReader.Bytes:
                    var tensor = ReadTensor(r.ReadMessage(), source);
                    initializers[tensor.Name] = tensor;
                    break;
                case 11 when wire == ProtoReader.Bytes: inputs.Add(ReadValueInfo(r.ReadMessage())); break;
                case 12 when wire == ProtoReader.Bytes: outputs.Add(ReadValueInfo(r.ReadMessage())); break;
                case 13 when wire == ProtoReader.Bytes: valueInfos.Add(ReadValueInfo(r.ReadMessage())); break;
                default: r.Skip(wire); break;
            }
        }

        return new OnnxGraph { Name = name, Nodes = nodes, Initializers = initializers, Inputs = inputs, Outputs = outputs, ValueInfos = valueInfos };
    }

    private static OnnxNode ReadNode(ProtoReader r)
    {
        var inputs = new List<string>();
        var outputs = new List<string>();
        var attributes = new List<OnnxAttribute>();
        string name = string.Empty, op = string.Empty, domain = string.Empty;
        while (r.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1 when wire == ProtoReader.Bytes: inputs.Add(r.ReadString()); break;
                case 2 when wire == ProtoReader.Bytes: outputs.Add(r.ReadString()); break;
                case 3 when wire == ProtoReader.Bytes: name = r.ReadString(); break;
                case 4 when wire == ProtoReader.Bytes: op = r.ReadString(); break;
                case 5 when wire == ProtoReader.Bytes: attributes.Add(ReadAttribute(r.ReadMessage())); break;
                case 7 when wire == ProtoReader.Bytes: domain = r.ReadString(); break;
                default: r.Skip(wire); break;
            }
        }

        return new OnnxNode { OpType = op, Name = name, Domain = domain, Inputs = inputs, Outputs = outputs, Attributes = attributes };
    }

    private static OnnxAttribute ReadAttribute(ProtoReader r)
    {
        var raw = r.Remaining.ToArray();
        string name = string.Empty, s = string.Empty;
        float f = 0;
        long i = 0;
        long type = 0;
        var floats = new List<float>();
        var ints = new List<long>();
        var strings = new List<string>();
        OnnxTensor? tensor = null;
        var seen = 0;
        while (r.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1 when wire == ProtoReader.Bytes: name = r.ReadString(); break;
                case 20 when wire == ProtoReader.Varint: type = r.ReadInt64(); break;
                case 2 when wire == ProtoReader.Fixed32: f = r.ReadFloat(); seen = 1; break;
                case 3 when wire == ProtoReader.Varint: i = r.ReadInt64(); seen = 2; break;
                case 4 when wire == ProtoReader.Bytes: s = r.ReadString(); seen = 3; break;
                case 5 when wire == ProtoReader.Bytes: tensor = ReadTensor(r.ReadMessage(), "attribute"); seen = 4; break;
                case 7: r.ReadFloats(wire, floats); seen = 6; break;
                case 8: r.ReadInt64s(wire, ints); seen = 7; break;
                case 9 when wire == ProtoReader.Bytes: strings.Add(r.ReadString()); seen = 8; break;
                default: r.Skip(wire); break;
            }
        }

        // Before IR 3 the type field was optional; the value field present tells the kind then.
        var kind = (OnnxAttribute.AttributeKind)(type != 0 ? type : seen);
        return OnnxAttribute.Read(name, kind, raw, f, i, s, floats, ints, strings, tensor);
    }

    private static OnnxValueInfo ReadValueInfo(ProtoReader r)
    {
        var name = string.Empty;
        var elementType = 0;
        List<OnnxDim>? shape = null;
        while (r.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1 when wire == ProtoReader.Bytes: name = r.ReadString(); break;
                case 2 when wire == ProtoReader.Bytes:
                    var type = r.ReadMessage();
                    while (type.Next(out var tf, out var tw))
                    {
                        if (tf == 1 && tw == ProtoReader.Bytes)
                        {
                            (elementType, shape) = ReadTensorType(type.ReadMessage());
                        }
                        else
                        {
                            type.Skip(tw);
                        }
                    }

                    break;
                default: r.Skip(wire); break;
            }
        }

        return new OnnxValueInfo { Name = name, ElementType = elementType, Shape = shape };
    }

    private static (int, List<OnnxDim>?) ReadTensorType(ProtoReader r)
    {
        var elementType = 0;
        List<OnnxDim>? shape = null;
        while (r.Next(out var field, out var wire))
        {
            if (field == 1 && wire == ProtoReader.Varint)
            {
                elementType = (int)r.ReadInt64();
            }
            else if (field == 2 && wire == ProtoReader.Bytes)
            {
                shape = [];
                var s = r.ReadMessage();
                while (s.Next(out var sf, out var sw))
                {
                    if (sf != 1 || sw != ProtoReader.Bytes)
                    {
                        s.Skip(sw);
                        continue;
                    }

                    var d = s.ReadMessage();
                    OnnxDim dim = OnnxDim.Symbolic("?");
                    while (d.Next(out var df, out var dw))
                    {
                        if (df == 1 && dw == ProtoReader.Varint)
                        {
                            var v = d.ReadInt64();
                            dim = v >= 0 ? OnnxDim.Fixed(v) : OnnxDim.Symbolic("?");
                        }
                        else if (df == 2 && dw == ProtoReader.Bytes)
                        {
                            var p = d.ReadString();
                            dim = OnnxDim.Symbolic(p.Length > 0 ? p : "?");
                        }
                        else
                        {
                            d.Skip(dw);
                        }
                    }

                    shape.Add(dim);
                }
            }
            else
            {
                r.Skip(wire);
            }
        }

        return (elementType, shape);
    }

    private static OnnxTensor ReadTensor(ProtoReader r, string source)
    {
        var dims = new List<long>();
        var dataType = 0;
        var name = string.Empty;
        ReadOnlyMemory<byte> raw = default;
        var hasRaw = false;
        var external = false;
        var floats = new List<float>();
        var longs = new List<long>();
        var doubles = new List<double>();
        while (r.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1: r.ReadInt64s(wire, dims); break;
                case 2 when wire == ProtoReader.Varint: dataType = (int)r.ReadInt64(); break;
                case 4: r.ReadFloats(wire, floats); break;
                case 5: r.ReadInt64s(wire, longs); break; // int32_data (also bool, int8, uint8, ...): varints
                case 7: r.ReadInt64s(wire, longs); break; // int64_data
                case 8 when wire == ProtoReader.Bytes: name = r.ReadString(); break;
                case 9 when wire == ProtoReader.Bytes: raw = r.ReadBytes(); hasRaw = true; break;
                case 10: r.ReadDoubles(wire, doubles); break;
                case 14 when wire == ProtoReader.Varint: external = r.ReadInt64() == 1; break;
                default: r.Skip(wire); break;
            }
        }

        if (external)
        {
            throw new ModelLoadException($"ONNX model '{source}': tensor '{name}' is stored in an external data file, which is not supported. Save the model with its weights inside the .onnx file (onnx.save_model(..., save_as_external_data=False)).");
        }

        var count = dims.Aggregate(1L, (a, d) => a * d);
        var tensor = new OnnxTensor { Name = name, Dims = [.. dims], DataType = dataType };
        switch (dataType)
        {
            case OnnxTensor.FloatType:
                return tensor with { Floats = hasRaw ? DecodeFloats(raw.Span, count, name) : Checked(floats.ToArray(), count, name) };
            case DoubleType:
                return tensor with { Floats = hasRaw ? DecodeDoubles(raw.Span, count, name) : Checked(doubles.Select(d => (float)d).ToArray(), count, name) };
            case OnnxTensor.Int64Type:
                return tensor with { Int64s = hasRaw ? DecodeInts(raw.Span, count, 8, name) : Checked(longs.ToArray(), count, name) };
            case Int32Type:
                return tensor with { Int64s = hasRaw ? DecodeInts(raw.Span, count, 4, name) : Checked(longs.ToArray(), count, name) };
            case BoolType or UInt8Type or Int8Type:
                return tensor with { Int64s = hasRaw ? DecodeInts(raw.Span, count, 1, name, signed: dataType == Int8Type) : Checked(longs.ToArray(), count, name) };
            default:
                // Kept without values; using it is an error that names the tensor and its type.
                return tensor;
        }
    }

    private static T[] Checked<T>(T[] values, long count, string name) =>
        values.LongLength == count ? values : throw new InvalidDataException($"tensor '{name}' declares {count} values but holds {values.LongLength}");

    private static float[] DecodeFloats(ReadOnlySpan<byte> raw, long count, string name)
    {
        Expect(raw.Length, count * 4, name);
        var values = new float[count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(i * 4)..]);
        }

        return values;
    }

    private static float[] DecodeDoubles(ReadOnlySpan<byte> raw, long count, string name)
    {
        Expect(raw.Length, count * 8, name);
        var values = new float[count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(raw[(i * 8)..]);
        }

        return values;
    }

    private static long[] DecodeInts(ReadOnlySpan<byte> raw, long count, int width, string name, bool signed = true)
    {
        Expect(raw.Length, count * width, name);
        var values = new long[count];
        for (var i = 0; i < values.Length; i++)
        {
            var at = raw[(i * width)..];
            values[i] = width switch
            {
                8 => BinaryPrimitives.ReadInt64LittleEndian(at),
                4 => BinaryPrimitives.ReadInt32LittleEndian(at),
                _ => signed ? (sbyte)at[0] : at[0],
            };
        }

        return values;
    }

    private static void Expect(int actual, long expected, string name)
    {
        if (actual != expected)
        {
            throw new InvalidDataException($"tensor '{name}' has {actual} bytes of raw data; its shape needs {expected}");
        }
    }
}

/// <summary>The protobuf wire format, read side: what <see cref="OnnxModelReader"/> needs. Unknown fields are skipped by wire type.</summary>
internal ref struct ProtoReader
{
    public const int Varint = 0;
    public const int Fixed64 = 1;
    public const int Bytes = 2;
    public const int Fixed32 = 5;

    private readonly ReadOnlyMemory<byte> _data;
    private int _position;

    public ProtoReader(ReadOnlyMemory<byte> data)
    {
        _data = data;
        _position = 0;
    }

    /// <summary>The bytes not read yet.</summary>
    public readonly ReadOnlyMemory<byte> Remaining => _data[_position..];

    /// <summary>Reads the next tag; <see langword="false"/> at the end of the message.</summary>
    public bool Next(out int field, out int wireType)
    {
        if (_position >= _data.Length)
        {
            field = 0;
            wireType = 0;
            return false;
        }

        var tag = ReadVarint();
        field = checked((int)(tag >> 3));
        wireType = (int)(tag & 7);
        if (field == 0)
        {
            throw new InvalidDataException($"field number 0 at byte {_position}");
        }

        return true;
    }

    public long ReadInt64() => unchecked((long)ReadVarint());

    public float ReadFloat()
    {
        var value = BinaryPrimitives.ReadSingleLittleEndian(Take(4));
        return value;
    }

    public double ReadDouble() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

    public string ReadString() => Encoding.UTF8.GetString(ReadBytes().Span);

    public ReadOnlyMemory<byte> ReadBytes()
    {
        var length = checked((int)ReadVarint());
        if (length < 0 || _position + length > _data.Length)
        {
            throw new InvalidDataException($"a length of {length} at byte {_position} runs past the end of the data");
        }

        var slice = _data.Slice(_position, length);
        _position += length;
        return slice;
    }

    public ProtoReader ReadMessage() => new(ReadBytes());

    /// <summary>A repeated int64/int32/enum field, packed (one length-delimited run) or not (one varint).</summary>
    public void ReadInt64s(int wireType, List<long> into)
    {
        if (wireType == Bytes)
        {
            var packed = new ProtoReader(ReadBytes());
            while (packed._position < packed._data.Length)
            {
                into.Add(packed.ReadInt64());
            }
        }
        else if (wireType == Varint)
        {
            into.Add(ReadInt64());
        }
        else
        {
            Skip(wireType);
        }
    }

    /// <summary>A repeated float field, packed or not.</summary>
    public void ReadFloats(int wireType, List<float> into)
    {
        if (wireType == Bytes)
        {
            var span = ReadBytes().Span;
            for (var i = 0; i + 4 <= span.Length; i += 4)
            {
                into.Add(BinaryPrimitives.ReadSingleLittleEndian(span[i..]));
            }
        }
        else if (wireType == Fixed32)
        {
            into.Add(ReadFloat());
        }
        else
        {
            Skip(wireType);
        }
    }

    /// <summary>A repeated double field, packed or not.</summary>
    public void ReadDoubles(int wireType, List<double> into)
    {
        if (wireType == Bytes)
        {
            var span = ReadBytes().Span;
            for (var i = 0; i + 8 <= span.Length; i += 8)
            {
                into.Add(BinaryPrimitives.ReadDoubleLittleEndian(span[i..]));
            }
        }
        else if (wireType == Fixed64)
        {
            into.Add(ReadDouble());
        }
        else
        {
            Skip(wireType);
        }
    }

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case Varint: ReadVarint(); break;
            case Fixed64: Take(8); break;
            case Bytes: ReadBytes(); break;
            case Fixed32: Take(4); break;
            default: throw new InvalidDataException($"unsupported wire type {wireType} at byte {_position}");
        }
    }

    private ulong ReadVarint()
    {
        ulong result = 0;
        var span = _data.Span;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (_position >= span.Length)
            {
                throw new InvalidDataException("the data ends inside a varint");
            }

            var b = span[_position++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
        }

        throw new InvalidDataException($"a varint longer than 10 bytes at byte {_position}");
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (_position + count > _data.Length)
        {
            throw new InvalidDataException($"the data ends inside a {count}-byte value");
        }

        var span = _data.Span.Slice(_position, count);
        _position += count;
        return span;
    }
}
