using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace PokeClassifier.Backbones.Onnx;

/// <summary>One dimension of a tensor shape: a fixed size, or a named symbolic size such as <c>batch</c>.</summary>
internal readonly record struct OnnxDim
{
    private OnnxDim(long value, string? param)
    {
        Value = value;
        Param = param;
    }

    /// <summary>The fixed size; -1 when symbolic.</summary>
    public long Value { get; }

    /// <summary>The symbolic name, or <see langword="null"/> when fixed.</summary>
    public string? Param { get; }

    public bool IsSymbolic => Param is not null;

    /// <summary>The conventional symbolic batch dimension.</summary>
    public static OnnxDim Batch => Symbolic("batch");

    public static OnnxDim Fixed(long value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        return new OnnxDim(value, null);
    }

    public static OnnxDim Symbolic(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return new OnnxDim(-1, name);
    }

    public static implicit operator OnnxDim(long value) => Fixed(value);

    public override string ToString() => Param ?? Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// A node attribute (the ONNX <c>AttributeProto</c> kinds this library reads and writes). An attribute read from a model also keeps
/// its serialised bytes (<see cref="Raw"/>), so copying a graph writes it back exactly as it was, whatever its kind.
/// </summary>
internal sealed record OnnxAttribute
{
    private OnnxAttribute(string name, AttributeKind kind)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        Kind = kind;
    }

    internal enum AttributeKind
    {
        Float = 1,
        Int = 2,
        String = 3,
        Tensor = 4,
        Graph = 5,
        Floats = 6,
        Ints = 7,
        Strings = 8,
    }

    public string Name { get; }

    internal AttributeKind Kind { get; }

    internal float FloatValue { get; private init; }

    internal long IntValue { get; private init; }

    internal string StringValue { get; private init; } = string.Empty;

    internal IReadOnlyList<float> FloatValues { get; private init; } = [];

    internal IReadOnlyList<long> IntValues { get; private init; } = [];

    internal IReadOnlyList<string> StringValues { get; private init; } = [];

    /// <summary>The tensor of a <see cref="AttributeKind.Tensor"/> attribute (the <c>value</c> of a <c>Constant</c> node).</summary>
    internal OnnxTensor? TensorValue { get; private init; }

    /// <summary>The serialised <c>AttributeProto</c> of an attribute read from a model; written back verbatim.</summary>
    internal byte[]? Raw { get; private init; }

    public static OnnxAttribute Float(string name, float value) => new(name, AttributeKind.Float) { FloatValue = value };

    public static OnnxAttribute Int(string name, long value) => new(name, AttributeKind.Int) { IntValue = value };

    public static OnnxAttribute String(string name, string value) => new(name, AttributeKind.String) { StringValue = value ?? throw new ArgumentNullException(nameof(value)) };

    public static OnnxAttribute Floats(string name, params float[] values) => new(name, AttributeKind.Floats) { FloatValues = [.. values] };

    public static OnnxAttribute Ints(string name, params long[] values) => new(name, AttributeKind.Ints) { IntValues = [.. values] };

    public static OnnxAttribute Strings(string name, params string[] values) => new(name, AttributeKind.Strings) { StringValues = [.. values] };

    /// <summary>An attribute as read from a model: its decoded values and its original bytes.</summary>
    internal static OnnxAttribute Read(string name, AttributeKind kind, byte[] raw, float f, long i, string s, IReadOnlyList<float> floats, IReadOnlyList<long> ints, IReadOnlyList<string> strings, OnnxTensor? tensor) =>
        new(name, kind) { Raw = raw, FloatValue = f, IntValue = i, StringValue = s, FloatValues = floats, IntValues = ints, StringValues = strings, TensorValue = tensor };
}

/// <summary>
/// Builds a small ONNX model (one graph, float tensors, initializers in <c>raw_data</c>) and serialises it to the ONNX protobuf
/// format without any protobuf dependency: <c>ir_version</c> 8, one opset import (default domain, version 17 unless told).
/// Used to write preprocessing graphs into saved ML.NET models and to make real test backbones.
/// </summary>
/// <example>
/// <code>
/// var g = new OnnxGraphBuilder("tiny");
/// g.AddInput("input", [OnnxDim.Batch, 3, 32, 32]);
/// g.AddInitializer("w", [8, 3, 3, 3], weights);
/// g.AddNode("Conv", ["input", "w"], ["conv"], OnnxAttribute.Ints("pads", 1, 1, 1, 1));
/// g.AddNode("GlobalAveragePool", ["conv"], ["pooled"]);
/// g.AddNode("Flatten", ["pooled"], ["features"]);
/// g.AddOutput("features", [OnnxDim.Batch, 8]);
/// File.WriteAllBytes("tiny.onnx", g.ToBytes());
/// </code>
/// </example>
internal sealed class OnnxGraphBuilder
{
    private const int FloatType = 1;
    private const int Int64Type = 7;
    private readonly List<(string Name, IReadOnlyList<OnnxDim> Shape)> _inputs = [];
    private readonly List<(string Name, IReadOnlyList<OnnxDim>? Shape, int ElementType)> _outputs = [];
    private readonly List<(string Key, string Value)> _metadata = [];
    private readonly List<(string Domain, long Version)> _extraOpsets = [];
    private readonly List<(string Name, long[] Dims, int DataType, byte[] Raw)> _initializers = [];
    private readonly List<(string OpType, string[] Inputs, string[] Outputs, string Name, OnnxAttribute[] Attributes, string Domain)> _nodes = [];

    public OnnxGraphBuilder(string graphName, long opsetVersion = 17, string producerName = "PokeClassifier")
    {
        ArgumentException.ThrowIfNullOrEmpty(graphName);
        ArgumentOutOfRangeException.ThrowIfLessThan(opsetVersion, 1);
        GraphName = graphName;
        OpsetVersion = opsetVersion;
        ProducerName = producerName;
    }

    public string GraphName { get; }

    public long OpsetVersion { get; }

    public string ProducerName { get; }

    /// <summary>A float tensor input of the graph.</summary>
    public OnnxGraphBuilder AddInput(string name, IReadOnlyList<OnnxDim> shape)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        _inputs.Add((name, [.. shape]));
        return this;
    }

    /// <summary>
    /// A tensor output of the graph, float unless <paramref name="elementType"/> says otherwise (ONNX codes: 7 int64, 8 string);
    /// a <see langword="null"/> shape declares the output without one (ONNX Runtime infers it).
    /// </summary>
    public OnnxGraphBuilder AddOutput(string name, IReadOnlyList<OnnxDim>? shape, int elementType = FloatType)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        _outputs.Add((name, shape is null ? null : [.. shape], elementType));
        return this;
    }

    /// <summary>A <c>metadata_props</c> entry of the model (ONNX Runtime shows them as the model's custom metadata).</summary>
    public OnnxGraphBuilder AddMetadata(string key, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        _metadata.Add((key, value));
        return this;
    }

    /// <summary>Imports another operator set (for example <c>ai.onnx.ml</c>) besides the default domain's.</summary>
    public OnnxGraphBuilder AddOpset(string domain, long version)
    {
        ArgumentException.ThrowIfNullOrEmpty(domain);
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        _extraOpsets.Add((domain, version));
        return this;
    }

    /// <summary>A constant float tensor (weights, biases, means), stored little-endian in <c>raw_data</c>.</summary>
    public OnnxGraphBuilder AddInitializer(string name, IReadOnlyList<long> dims, ReadOnlySpan<float> values)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        CheckCount(name, dims, values.Length);
        var raw = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * 4), values[i]);
        }

        _initializers.Add((name, [.. dims], FloatType, raw));
        return this;
    }

    /// <summary>A constant int64 tensor (for example the target shape of a <c>Reshape</c>).</summary>
    public OnnxGraphBuilder AddInt64Initializer(string name, IReadOnlyList<long> dims, ReadOnlySpan<long> values)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        CheckCount(name, dims, values.Length);
        var raw = new byte[values.Length * 8];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * 8), values[i]);
        }

        _initializers.Add((name, [.. dims], Int64Type, raw));
        return this;
    }

    /// <summary>
    /// A constant read from another model, written back with its element type: float, int64, int32, or one-byte types (bool, uint8,
    /// int8). Float values may have been changed (fine-tuned weights); the name and shape are the tensor's.
    /// </summary>
    /// <exception cref="NotSupportedException">The tensor's element type has no values this library can write (float16, strings, ...).</exception>
    public OnnxGraphBuilder AddInitializer(OnnxTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.Floats is { } floats)
        {
            // Doubles are narrowed to float when read; they are written as float.
            return AddInitializer(tensor.Name, tensor.Dims, floats);
        }

        if (tensor.Int64s is not { } ints)
        {
            throw new NotSupportedException($"Initializer '{tensor.Name}' has ONNX element type {tensor.DataType}, which the ONNX writer cannot copy.");
        }

        var width = tensor.DataType switch { Int64Type => 8, 6 => 4, 2 or 3 or 9 => 1, _ => 8 };
        var dataType = width == 8 ? Int64Type : tensor.DataType;
        var raw = new byte[ints.Length * width];
        for (var i = 0; i < ints.Length; i++)
        {
            switch (width)
            {
                case 8: BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * 8), ints[i]); break;
                case 4: BinaryPrimitives.WriteInt32LittleEndian(raw.AsSpan(i * 4), checked((int)ints[i])); break;
                default: raw[i] = unchecked((byte)ints[i]); break;
            }
        }

        CheckCount(tensor.Name, tensor.Dims, ints.Length);
        _initializers.Add((tensor.Name, [.. tensor.Dims], dataType, raw));
        return this;
    }

    /// <summary>An operator node of the default ONNX domain.</summary>
    public OnnxGraphBuilder AddNode(string opType, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, params OnnxAttribute[] attributes) =>
        AddNamedNode(opType, $"{opType}_{_nodes.Count}", inputs, outputs, attributes);

    /// <summary>An operator node with an explicit node name.</summary>
    public OnnxGraphBuilder AddNamedNode(string opType, string name, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, params OnnxAttribute[] attributes) =>
        AddDomainNode(string.Empty, opType, name, inputs, outputs, attributes);

    /// <summary>An operator node of another domain (for example <c>ai.onnx.ml</c>; import its opset with <see cref="AddOpset"/>).</summary>
    public OnnxGraphBuilder AddDomainNode(string domain, string opType, string name, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, params OnnxAttribute[] attributes)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentException.ThrowIfNullOrEmpty(opType);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputs);
        if (outputs.Count == 0)
        {
            throw new ArgumentException($"Node {name} ({opType}) needs at least one output.", nameof(outputs));
        }

        _nodes.Add((opType, [.. inputs], [.. outputs], name, [.. attributes], domain));
        return this;
    }

    /// <summary>The serialised <c>ModelProto</c>.</summary>
    public byte[] ToBytes()
    {
        if (_inputs.Count == 0 || _outputs.Count == 0)
        {
            throw new InvalidOperationException($"Graph {GraphName} needs at least one input and one output.");
        }

        var model = new ProtoWriter();
        model.WriteInt64(1, 8); // ir_version
        model.WriteString(2, ProducerName); // producer_name
        model.WriteMessage(7, WriteGraph); // graph
        model.WriteMessage(8, opset => // opset_import
        {
            opset.WriteString(1, string.Empty); // domain: the default ONNX domain
            opset.WriteInt64(2, OpsetVersion);
        });
        foreach (var (domain, version) in _extraOpsets)
        {
            model.WriteMessage(8, opset =>
            {
                opset.WriteString(1, domain);
                opset.WriteInt64(2, version);
            });
        }

        foreach (var (key, value) in _metadata)
        {
            model.WriteMessage(14, entry => // metadata_props: StringStringEntryProto
            {
                entry.WriteString(1, key);
                entry.WriteString(2, value);
            });
        }

        return model.ToArray();
    }

    /// <summary>
    /// Writes the model into <paramref name="directory"/> under a name made of <paramref name="namePrefix"/> and its content's hash,
    /// unless that file is already there (the same bytes), through a temporary file; returns the path.
    /// </summary>
    public string SaveByContent(string directory, string namePrefix = "")
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var bytes = ToBytes();
        var path = Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"{namePrefix}{Convert.ToHexStringLower(SHA256.HashData(bytes))[..20]}.onnx"));
        if (!File.Exists(path))
        {
            Write(path, bytes);
        }

        return path;
    }

    /// <summary>Writes the model to <paramref name="path"/> through a temporary file, so readers never see half a model.</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Write(path, ToBytes());
    }

    private static void Write(string path, byte[] bytes)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = $"{full}.{Guid.NewGuid():N}.tmp";
        try
        {
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private static void CheckCount(string name, IReadOnlyList<long> dims, int count)
    {
        ArgumentNullException.ThrowIfNull(dims);
        var expected = dims.Aggregate(1L, (a, d) => a * d);
        if (dims.Any(d => d < 0) || expected != count)
        {
            throw new ArgumentException($"Initializer {name}: dims [{string.Join(",", dims)}] hold {expected} values, {count} given.", nameof(dims));
        }
    }

    private void WriteGraph(ProtoWriter graph)
    {
        foreach (var node in _nodes)
        {
            graph.WriteMessage(1, n =>
            {
                foreach (var input in node.Inputs)
                {
                    n.WriteString(1, input);
                }

                foreach (var output in node.Outputs)
                {
                    n.WriteString(2, output);
                }

                n.WriteString(3, node.Name);
                n.WriteString(4, node.OpType);
                foreach (var attribute in node.Attributes)
                {
                    n.WriteMessage(5, a => WriteAttribute(a, attribute));
                }

                if (node.Domain.Length > 0)
                {
                    n.WriteString(7, node.Domain);
                }
            });
        }

        graph.WriteString(2, GraphName);
        foreach (var init in _initializers)
        {
            graph.WriteMessage(5, t =>
            {
                foreach (var d in init.Dims)
                {
                    t.WriteInt64(1, d);
                }

                t.WriteInt64(2, init.DataType);
                t.WriteString(8, init.Name);
                t.WriteBytes(9, init.Raw);
            });
        }

        foreach (var (name, shape) in _inputs)
        {
            graph.WriteMessage(11, v => WriteValueInfo(v, name, shape, FloatType));
        }

        foreach (var (name, shape, elementType) in _outputs)
        {
            graph.WriteMessage(12, v => WriteValueInfo(v, name, shape, elementType));
        }
    }

    private static void WriteAttribute(ProtoWriter a, OnnxAttribute attribute)
    {
        if (attribute.Raw is not null)
        {
            a.WriteRaw(attribute.Raw);
            return;
        }

        a.WriteString(1, attribute.Name);
        switch (attribute.Kind)
        {
            case OnnxAttribute.AttributeKind.Float:
                a.WriteFloat(2, attribute.FloatValue);
                break;
            case OnnxAttribute.AttributeKind.Int:
                a.WriteInt64(3, attribute.IntValue);
                break;
            case OnnxAttribute.AttributeKind.String:
                a.WriteBytes(4, Encoding.UTF8.GetBytes(attribute.StringValue));
                break;
            case OnnxAttribute.AttributeKind.Floats:
                foreach (var f in attribute.FloatValues)
                {
                    a.WriteFloat(7, f);
                }

                break;
            case OnnxAttribute.AttributeKind.Ints:
                foreach (var i in attribute.IntValues)
                {
                    a.WriteInt64(8, i);
                }

                break;
            case OnnxAttribute.AttributeKind.Strings:
                foreach (var text in attribute.StringValues)
                {
                    a.WriteBytes(9, Encoding.UTF8.GetBytes(text));
                }

                break;
            default:
                throw new InvalidOperationException($"Unknown attribute kind {attribute.Kind}.");
        }

        a.WriteInt64(20, (long)attribute.Kind); // type
    }

    private static void WriteValueInfo(ProtoWriter v, string name, IReadOnlyList<OnnxDim>? shape, int elementType)
    {
        v.WriteString(1, name);
        v.WriteMessage(2, type => type.WriteMessage(1, tensor => // TypeProto.tensor_type
        {
            tensor.WriteInt64(1, elementType); // elem_type
            if (shape is null)
            {
                return;
            }

            tensor.WriteMessage(2, s => // shape
            {
                foreach (var dim in shape)
                {
                    s.WriteMessage(1, d =>
                    {
                        if (dim.IsSymbolic)
                        {
                            d.WriteString(2, dim.Param!); // dim_param
                        }
                        else
                        {
                            d.WriteInt64(1, dim.Value); // dim_value
                        }
                    });
                }
            });
        }));
    }
}

/// <summary>The protobuf wire format, just what <see cref="OnnxGraphBuilder"/> needs: varints, fixed32 floats, length-delimited fields.</summary>
internal sealed class ProtoWriter
{
    private const int VarintWire = 0;
    private const int LengthDelimitedWire = 2;
    private const int Fixed32Wire = 5;
    private readonly ArrayBufferWriter<byte> _buffer = new();

    public void WriteInt64(int field, long value)
    {
        WriteTag(field, VarintWire);
        WriteVarint(unchecked((ulong)value)); // negative int64 values take ten bytes, as protobuf specifies
    }

    public void WriteFloat(int field, float value)
    {
        WriteTag(field, Fixed32Wire);
        BinaryPrimitives.WriteSingleLittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
    }

    public void WriteString(int field, string value) => WriteBytes(field, Encoding.UTF8.GetBytes(value));

    public void WriteBytes(int field, ReadOnlySpan<byte> value)
    {
        WriteTag(field, LengthDelimitedWire);
        WriteVarint((ulong)value.Length);
        _buffer.Write(value);
    }

    /// <summary>A nested message: written to its own buffer first, since its length prefix comes before it.</summary>
    public void WriteMessage(int field, Action<ProtoWriter> write)
    {
        var nested = new ProtoWriter();
        write(nested);
        WriteBytes(field, nested._buffer.WrittenSpan);
    }

    /// <summary>Bytes that are already a serialised message body (an attribute copied from another model).</summary>
    public void WriteRaw(ReadOnlySpan<byte> bytes) => _buffer.Write(bytes);

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    private void WriteTag(int field, int wireType) => WriteVarint(((ulong)field << 3) | (uint)wireType);

    private void WriteVarint(ulong value)
    {
        var span = _buffer.GetSpan(10);
        var count = 0;
        while (value >= 0x80)
        {
            span[count++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[count++] = (byte)value;
        _buffer.Advance(count);
    }
}
