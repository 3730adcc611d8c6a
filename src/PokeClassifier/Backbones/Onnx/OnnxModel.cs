namespace PokeClassifier.Backbones.Onnx;

/// <summary>An ONNX model as read by <see cref="OnnxModelReader"/>: what the importer and the exporter need of a <c>ModelProto</c>.</summary>
internal sealed record OnnxModel
{
    public long IrVersion { get; init; }

    public string ProducerName { get; init; } = string.Empty;

    public string ProducerVersion { get; init; } = string.Empty;

    /// <summary>The operator sets the model imports; the default ONNX domain is the empty string.</summary>
    public IReadOnlyList<(string Domain, long Version)> Opsets { get; init; } = [];

    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);

    public required OnnxGraph Graph { get; init; }

    /// <summary>The version of the default ONNX domain (<c>""</c> or <c>ai.onnx</c>); 1 when none is declared, as ONNX specifies.</summary>
    public long DefaultOpset => Opsets.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(1).Max();
}

/// <summary>A <c>GraphProto</c>: nodes in file order, initializers by name, inputs, outputs and intermediate value infos.</summary>
internal sealed record OnnxGraph
{
    public string Name { get; init; } = string.Empty;

    public required IReadOnlyList<OnnxNode> Nodes { get; init; }

    public required IReadOnlyDictionary<string, OnnxTensor> Initializers { get; init; }

    public required IReadOnlyList<OnnxValueInfo> Inputs { get; init; }

    public required IReadOnlyList<OnnxValueInfo> Outputs { get; init; }

    public IReadOnlyList<OnnxValueInfo> ValueInfos { get; init; } = [];

    /// <summary>The inputs that are not initializers (before IR 4, every initializer was also listed as an input).</summary>
    public IEnumerable<OnnxValueInfo> DataInputs => Inputs.Where(i => !Initializers.ContainsKey(i.Name));
}

/// <summary>A <c>NodeProto</c>. Its attributes are kept with their serialised bytes, so a copy writes them back unchanged.</summary>
internal sealed record OnnxNode
{
    public required string OpType { get; init; }

    public string Name { get; init; } = string.Empty;

    public string Domain { get; init; } = string.Empty;

    public required IReadOnlyList<string> Inputs { get; init; }

    public required IReadOnlyList<string> Outputs { get; init; }

    public IReadOnlyList<OnnxAttribute> Attributes { get; init; } = [];

    /// <summary>The node's name, or its first output when it has none (for messages).</summary>
    public string DisplayName => string.IsNullOrEmpty(Name) ? $"(unnamed, output '{(Outputs.Count > 0 ? Outputs[0] : string.Empty)}')" : Name;

    public OnnxAttribute? Attribute(string name) => Attributes.FirstOrDefault(a => a.Name == name);

    public long Int(string name, long fallback) => Attribute(name) is { Kind: OnnxAttribute.AttributeKind.Int } a ? a.IntValue : fallback;

    public float Float(string name, float fallback) => Attribute(name) is { Kind: OnnxAttribute.AttributeKind.Float } a ? a.FloatValue : fallback;

    public string String(string name, string fallback) => Attribute(name) is { Kind: OnnxAttribute.AttributeKind.String } a ? a.StringValue : fallback;

    public IReadOnlyList<long>? Ints(string name) => Attribute(name) is { Kind: OnnxAttribute.AttributeKind.Ints } a ? a.IntValues : null;

    /// <summary>An input that may be left out: <see langword="null"/> when absent or given as the empty name.</summary>
    public string? OptionalInput(int index) => index < Inputs.Count && Inputs[index].Length > 0 ? Inputs[index] : null;

    public override string ToString() => $"{OpType} node {DisplayName}";
}

/// <summary>A constant tensor (<c>TensorProto</c>) converted to floats or 64-bit integers.</summary>
internal sealed record OnnxTensor
{
    public const int FloatType = 1;
    public const int Int64Type = 7;

    public string Name { get; init; } = string.Empty;

    public required long[] Dims { get; init; }

    /// <summary>The ONNX element type it was stored with (1 float, 7 int64, 6 int32, 11 double, ...).</summary>
    public int DataType { get; init; }

    /// <summary>The values of a floating-point tensor; <see langword="null"/> for integer tensors.</summary>
    public float[]? Floats { get; init; }

    /// <summary>The values of an integer or boolean tensor; <see langword="null"/> for floating-point tensors.</summary>
    public long[]? Int64s { get; init; }

    public long ElementCount => Dims.Aggregate(1L, (a, d) => a * d);

    public bool IsFloat => Floats is not null;

    public override string ToString() => $"{Name} [{string.Join(",", Dims)}] ({(IsFloat ? "float" : "int")})";
}

/// <summary>A <c>ValueInfoProto</c> of a tensor: name, element type and shape when declared.</summary>
internal sealed record OnnxValueInfo
{
    public required string Name { get; init; }

    public int ElementType { get; init; }

    /// <summary>The declared shape; <see langword="null"/> when the model gives none.</summary>
    public IReadOnlyList<OnnxDim>? Shape { get; init; }

    public override string ToString() => Shape is null ? Name : $"{Name} [{string.Join(",", Shape)}]";
}
