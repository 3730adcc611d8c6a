using System.Globalization;

namespace PokeClassifier.Backbones.Onnx;

/// <summary>
/// What <see cref="OnnxQuantizer.Plan"/> decided for a backbone graph: the float graph prepared for quantization (pruned to the
/// feature output, batch normalisation folded into the convolutions before it, moved to opset 13 or later) and the activation
/// tensors to calibrate and quantize.
/// </summary>
internal sealed class QuantizationPlan
{
    public required long Opset { get; init; }

    public required string InputName { get; init; }

    public required string OutputName { get; init; }

    public required IReadOnlyList<OnnxDim> InputShape { get; init; }

    public required IReadOnlyList<OnnxDim>? OutputShape { get; init; }

    /// <summary>The float graph's nodes, in order (what calibration runs).</summary>
    public required IReadOnlyList<OnnxNode> Nodes { get; init; }

    public required IReadOnlyDictionary<string, OnnxTensor> Initializers { get; init; }

    /// <summary>The activation tensors that get a QuantizeLinear/DequantizeLinear pair, in graph order.</summary>
    public required IReadOnlyList<string> Activations { get; init; }

    /// <summary>The <c>Relu</c> nodes left out of the quantized graph: the uint8 quantization of their output (zero point 0) clamps as they do.</summary>
    public required IReadOnlySet<OnnxNode> FusedRelus { get; init; }

    /// <summary>Activations quantized with another tensor's parameters (a MaxPool's output shares its input's, so ONNX Runtime runs it on uint8).</summary>
    public required IReadOnlyDictionary<string, string> SharedRanges { get; init; }

    public required int FoldedBatchNorms { get; init; }

    /// <summary>The prefix of every tensor and node name the quantizer adds.</summary>
    public required string Prefix { get; init; }

    /// <summary>The number of convolution and matrix-product weights that are quantized.</summary>
    public int QuantizedWeights => Nodes.Count(n => OnnxQuantizer.WeightOf(n, Initializers) is not null);
}

/// <summary>
/// Static int8 quantization of an ONNX backbone in QDQ form, written with the library's own ONNX reader and writer: per-channel
/// symmetric int8 convolution weights (per-tensor for <c>Gemm</c>/<c>MatMul</c>), int32 biases at the input scale times the weight
/// scale, uint8 asymmetric activations whose ranges come from calibration. ONNX Runtime's CPU provider fuses the
/// QuantizeLinear/DequantizeLinear pairs around <c>Conv</c>, <c>Add</c>, the pools and <c>Gemm</c>/<c>MatMul</c> into its int8
/// kernels (<c>QLinearConv</c>, <c>QLinearAdd</c>, ...).
/// </summary>
/// <remarks>
/// The feature output itself stays float (the last pooling runs in float on dequantized values), so the features keep their full
/// resolution. A model before opset 13 (per-channel QuantizeLinear needs 13) is moved to opset 13 when every operator it uses means
/// the same there; otherwise quantization is refused with the operators named.
/// </remarks>
internal static class OnnxQuantizer
{
    /// <summary>The minimum default-domain opset of a quantized model (per-channel DequantizeLinear).</summary>
    public const long MinimumOpset = 13;

    private const int UInt8Type = 2;
    private const int Int8Type = 3;
    private const int Int32Type = 6;

    private static readonly HashSet<string> WeightOps = new(StringComparer.Ordinal) { "Conv", "Gemm", "MatMul" };

    /// <summary>Operators whose float inputs and output are quantized (each has an int8 kernel or a QDQ fusion in ONNX Runtime's CPU provider).</summary>
    private static readonly HashSet<string> QuantizedOps = new(StringComparer.Ordinal) { "Conv", "Gemm", "MatMul", "Add", "MaxPool", "AveragePool", "GlobalAveragePool", "Concat" };

    /// <summary>Operators after which a <c>Relu</c> can be left to the output's quantization.</summary>
    private static readonly HashSet<string> ReluFusers = new(StringComparer.Ordinal) { "Conv", "Gemm", "MatMul", "Add" };

    /// <summary>Operators that mean the same in every default-domain opset from 7 to 13 (with the removed attributes dropped).</summary>
    private static readonly HashSet<string> UpgradeSafe = new(StringComparer.Ordinal)
    {
        "Conv", "BatchNormalization", "Relu", "LeakyRelu", "PRelu", "Elu", "Sigmoid", "HardSigmoid", "Tanh", "Add", "Sub", "Mul", "Div", "Sum", "Max", "Min",
        "Abs", "Neg", "Exp", "Log", "Sqrt", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LRN", "Flatten", "Concat", "Gemm", "MatMul",
        "Identity", "Reshape", "Transpose", "Shape", "Gather", "Constant", "ReduceMean", "ReduceMax",
    };

    /// <summary>Operators whose outputs are not image data even when their input is.</summary>
    private static readonly HashSet<string> NonFloatOutputs = new(StringComparer.Ordinal) { "Shape", "Size", "NonZero", "ArgMax", "ArgMin", "Cast", "Equal", "Greater", "Less", "Not" };

    /// <summary>Prepares <paramref name="graph"/> for quantization.</summary>
    /// <param name="graph">The backbone graph.</param>
    /// <param name="inputShape">The image input's shape (batch 1 or symbolic, 3, height, width).</param>
    /// <exception cref="NotSupportedException">The graph uses operators of another domain, an opset before 7, or, before opset 13, an operator whose meaning changed by 13.</exception>
    public static QuantizationPlan Plan(BackboneGraph graph, IReadOnlyList<OnnxDim> inputShape)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var model = graph.Model;
        var opset = model.DefaultOpset;
        var nodes = OnnxPipelineWriter.Needed(model.Graph, graph.OutputName);
        if (nodes.Count == 0)
        {
            throw new NotSupportedException($"Backbone '{graph.Source}': no node computes the output '{graph.OutputName}'.");
        }

        var foreign = nodes.Where(n => n.Domain is not ("" or "ai.onnx")).Select(n => $"{n.OpType} ({n.Domain})").Distinct().ToArray();
        if (foreign.Length > 0)
        {
            throw new NotSupportedException($"Backbone '{graph.Source}' uses operators outside the default ONNX domain ({string.Join(", ", foreign)}); int8 quantization handles default-domain graphs only.");
        }

        if (opset < 7)
        {
            throw new NotSupportedException($"Backbone '{graph.Source}' uses ONNX opset {opset}; int8 quantization needs opset 7 or later.");
        }

        if (opset < MinimumOpset)
        {
            var changed = nodes.Select(n => n.OpType).Where(op => !UpgradeSafe.Contains(op)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
            if (changed.Length > 0)
            {
                throw new NotSupportedException(
                    $"Backbone '{graph.Source}' uses ONNX opset {opset}; per-channel int8 quantization needs opset {MinimumOpset}, and these of its operators may mean " +
                    $"something else there: {string.Join(", ", changed)}. Export the model at opset {MinimumOpset} or later.");
            }
        }

        var names = nodes.SelectMany(n => n.Inputs.Concat(n.Outputs).Append(n.Name)).Concat(model.Graph.Initializers.Keys).Where(n => n.Length > 0).ToHashSet(StringComparer.Ordinal);
        var prefix = "pokeclassifier-int8/";
        for (var i = 2; names.Any(n => n.StartsWith(prefix, StringComparison.Ordinal)); i++)
        {
            prefix = string.Create(CultureInfo.InvariantCulture, $"pokeclassifier-int8-{i}/");
        }

        var initializers = new Dictionary<string, OnnxTensor>(StringComparer.Ordinal);
        foreach (var input in nodes.SelectMany(n => n.Inputs))
        {
            if (model.Graph.Initializers.TryGetValue(input, out var tensor))
            {
                initializers[input] = tensor;
            }
        }

        // Constants become initializers (their weights can then be quantized); removed attributes are dropped and nodes named.
        var work = new List<OnnxNode>();
        var unnamed = 0;
        foreach (var node in nodes)
        {
            if (node.OpType == "Constant" && node.Outputs.Count == 1 && node.Attribute("value")?.TensorValue is { } value && (value.Floats is not null || value.Int64s is not null))
            {
                initializers[node.Outputs[0]] = value with { Name = node.Outputs[0] };
                continue;
            }

            var named = node.Name.Length > 0 && work.All(w => w.Name != node.Name)
                ? node
                : node with { Name = string.Create(CultureInfo.InvariantCulture, $"{prefix}node{unnamed++}") };
            work.Add(opset < MinimumOpset ? Upgrade(named, graph.Source) : named);
        }

        var folded = FoldBatchNorms(work, initializers, graph.OutputName, prefix);
        var plan = ChooseActivations(work, initializers, graph.InputName, graph.OutputName);
        var declaredOutput = model.Graph.Outputs.Concat(model.Graph.ValueInfos).FirstOrDefault(v => v.Name == graph.OutputName)?.Shape;
        return new QuantizationPlan
        {
            Opset = Math.Max(MinimumOpset, opset),
            InputName = graph.InputName,
            OutputName = graph.OutputName,
            InputShape = [.. inputShape],
            OutputShape = declaredOutput,
            Nodes = work,
            Initializers = initializers,
            Activations = plan.Activations,
            FusedRelus = plan.FusedRelus,
            SharedRanges = plan.Shared,
            FoldedBatchNorms = folded,
            Prefix = prefix,
        };
    }

    /// <summary>The float graph of the plan with every activation to calibrate added as an output (ONNX Runtime keeps graph outputs as they are).</summary>
    public static byte[] CalibrationModel(QuantizationPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var builder = new OnnxGraphBuilder("pokeclassifier-calibration", plan.Opset);
        builder.AddInput(plan.InputName, plan.InputShape);
        var written = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in plan.Nodes)
        {
            foreach (var input in node.Inputs.Where(i => i.Length > 0 && written.Add(i)))
            {
                if (plan.Initializers.TryGetValue(input, out var tensor))
                {
                    builder.AddInitializer(tensor);
                }
            }

            builder.AddNamedNode(node.OpType, node.Name, node.Inputs, node.Outputs, [.. node.Attributes]);
        }

        builder.AddOutput(plan.OutputName, plan.OutputShape);
        foreach (var name in plan.Activations.Where(a => a != plan.OutputName && a != plan.InputName))
        {
            builder.AddOutput(name, null);
        }

        return builder.ToBytes();
    }

    /// <summary>The activations whose ranges calibration must measure (the graph input's included).</summary>
    public static IReadOnlyList<string> CalibratedTensors(QuantizationPlan plan) =>
        plan.Activations.Where(a => !plan.SharedRanges.ContainsKey(a)).ToArray();

    /// <summary>Writes the QDQ model.</summary>
    /// <param name="plan">The plan.</param>
    /// <param name="ranges">Per calibrated activation, the float range it takes.</param>
    /// <param name="weightBits">8 for the full int8 range (-127..127), 7 for -63..63 (room for the 16-bit sums of AVX2's VPMADDUBSW).</param>
    /// <param name="metadata">Written into the model's metadata (how it was calibrated).</param>
    public static byte[] QdqModel(QuantizationPlan plan, IReadOnlyDictionary<string, (float Min, float Max)> ranges, int weightBits, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(ranges);
        ArgumentOutOfRangeException.ThrowIfLessThan(weightBits, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(weightBits, 8);
        var qmax = (1 << (weightBits - 1)) - 1;
        var p = plan.Prefix;
        var builder = new OnnxGraphBuilder("pokeclassifier-int8", plan.Opset);
        builder.AddInput(plan.InputName, plan.InputShape);
        foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
        {
            builder.AddMetadata(key, value);
        }

        var activations = plan.Activations.ToHashSet(StringComparer.Ordinal);
        var parameters = new Dictionary<string, (float Scale, byte ZeroPoint)>(StringComparer.Ordinal);
        foreach (var name in plan.Activations)
        {
            var source = plan.SharedRanges.GetValueOrDefault(name, name);
            if (!ranges.TryGetValue(source, out var range))
            {
                throw new ArgumentException($"No calibrated range for tensor '{source}'.", nameof(ranges));
            }

            var (scale, zeroPoint) = UInt8Parameters(range.Min, range.Max);
            parameters[name] = (scale, zeroPoint);
            builder.AddInitializer(p + name + "/scale", [], [scale]);
            builder.AddInitializer(new OnnxTensor { Name = p + name + "/zero_point", Dims = [], DataType = UInt8Type, Int64s = [zeroPoint] });
        }

        var written = new HashSet<string>(StringComparer.Ordinal);
        var dequantized = 0;
        void Quantize(string tensor) =>
            builder.AddNamedNode("QuantizeLinear", p + tensor + "/quantize", [tensor, p + tensor + "/scale", p + tensor + "/zero_point"], [p + tensor + "/q"]);

        if (activations.Contains(plan.InputName))
        {
            Quantize(plan.InputName);
        }

        // A fused Relu's input is written straight to the Relu's output name, whose quantization does the clamping.
        var renamed = plan.FusedRelus.ToDictionary(r => r.Inputs[0], r => r.Outputs[0], StringComparer.Ordinal);
        foreach (var original in plan.Nodes)
        {
            if (plan.FusedRelus.Contains(original))
            {
                continue;
            }

            var node = original with { Outputs = [.. original.Outputs.Select(o => renamed.GetValueOrDefault(o, o))] };
            var inputs = node.Inputs.ToArray();
            for (var i = 0; i < inputs.Length; i++)
            {
                if (inputs[i].Length > 0 && activations.Contains(inputs[i]))
                {
                    // One DequantizeLinear per consumer, so every node's QDQ group is its own.
                    var t = inputs[i];
                    var output = string.Create(CultureInfo.InvariantCulture, $"{p}{t}/dq{dequantized++}");
                    builder.AddNamedNode("DequantizeLinear", output, [p + t + "/q", p + t + "/scale", p + t + "/zero_point"], [output]);
                    inputs[i] = output;
                }
            }

            if (WeightOf(node, plan.Initializers) is { } weight)
            {
                var perChannel = node.OpType == "Conv";
                var (q, scales) = QuantizeWeight(weight, perChannel, qmax);
                var wName = p + node.Name + "/weight";
                builder.AddInitializer(new OnnxTensor { Name = wName + "/q", Dims = weight.Dims, DataType = Int8Type, Int64s = q });
                builder.AddInitializer(wName + "/scale", perChannel ? [scales.Length] : [], scales);
                builder.AddInitializer(new OnnxTensor { Name = wName + "/zero_point", Dims = perChannel ? [scales.Length] : [], DataType = Int8Type, Int64s = new long[scales.Length] });
                builder.AddNamedNode("DequantizeLinear", wName + "/dequantize", [wName + "/q", wName + "/scale", wName + "/zero_point"], [wName], perChannel ? [OnnxAttribute.Int("axis", 0)] : []);
                inputs[1] = wName;

                // The bias in int32 at input scale x weight scale, as QLinearConv and QGemm take it.
                if (node.OptionalInput(2) is { } biasName && plan.Initializers.TryGetValue(biasName, out var bias) && bias.Floats is { } biasValues &&
                    parameters.TryGetValue(node.Inputs[0], out var input) && (!perChannel || biasValues.Length == scales.Length))
                {
                    var bScales = perChannel ? scales.Select(s => input.Scale * s).ToArray() : [input.Scale * scales[0]];
                    var bq = new long[biasValues.Length];
                    for (var c = 0; c < bq.Length; c++)
                    {
                        var v = Math.Round(biasValues[c] / (double)bScales[perChannel ? c : 0]);
                        bq[c] = (long)Math.Clamp(v, int.MinValue, int.MaxValue);
                    }

                    var bName = p + node.Name + "/bias";
                    builder.AddInitializer(new OnnxTensor { Name = bName + "/q", Dims = bias.Dims, DataType = Int32Type, Int64s = bq });
                    builder.AddInitializer(bName + "/scale", perChannel ? [bScales.Length] : [], bScales);
                    builder.AddInitializer(new OnnxTensor { Name = bName + "/zero_point", Dims = perChannel ? [bScales.Length] : [], DataType = Int32Type, Int64s = new long[bScales.Length] });
                    builder.AddNamedNode("DequantizeLinear", bName + "/dequantize", [bName + "/q", bName + "/scale", bName + "/zero_point"], [bName], perChannel ? [OnnxAttribute.Int("axis", 0)] : []);
                    inputs[2] = bName;
                }
            }

            foreach (var input in inputs.Where(i => i.Length > 0 && written.Add(i)))
            {
                if (plan.Initializers.TryGetValue(input, out var tensor))
                {
                    builder.AddInitializer(tensor);
                }
            }

            builder.AddNamedNode(node.OpType, node.Name, inputs, node.Outputs, [.. node.Attributes]);
            foreach (var output in node.Outputs.Where(activations.Contains))
            {
                Quantize(output);
            }
        }

        builder.AddOutput(plan.OutputName, plan.OutputShape);
        return builder.ToBytes();
    }

    /// <summary>The scale and zero point of a uint8 tensor whose values span [min, max] (the range always includes 0, so 0 is exact).</summary>
    public static (float Scale, byte ZeroPoint) UInt8Parameters(float min, float max)
    {
        var lo = Math.Min(0f, float.IsFinite(min) ? min : 0f);
        var hi = Math.Max(0f, float.IsFinite(max) ? max : 0f);
        if (hi - lo < 1e-12f)
        {
            return (1f, 0);
        }

        var scale = (hi - lo) / 255f;
        var zeroPoint = (byte)Math.Clamp(Math.Round(-lo / scale), 0, 255);
        return (scale, zeroPoint);
    }

    /// <summary>The float weight initializer a <c>Conv</c>/<c>Gemm</c>/<c>MatMul</c> node multiplies by, or <see langword="null"/>.</summary>
    internal static OnnxTensor? WeightOf(OnnxNode node, IReadOnlyDictionary<string, OnnxTensor> initializers)
    {
        if (!WeightOps.Contains(node.OpType) || node.Inputs.Count < 2 || !initializers.TryGetValue(node.Inputs[1], out var w) || w.Floats is null)
        {
            return null;
        }

        return node.OpType switch
        {
            "Conv" when w.Dims.Length >= 3 => w,
            "Gemm" or "MatMul" when w.Dims.Length == 2 && node.Int("transA", 0) == 0 => w,
            _ => null,
        };
    }

    /// <summary>Symmetric int8 weights: per output channel (axis 0) or one scale for the tensor.</summary>
    private static (long[] Values, float[] Scales) QuantizeWeight(OnnxTensor weight, bool perChannel, int qmax)
    {
        var w = weight.Floats!;
        var channels = perChannel ? (int)weight.Dims[0] : 1;
        var per = w.Length / channels;
        var q = new long[w.Length];
        var scales = new float[channels];
        for (var c = 0; c < channels; c++)
        {
            var span = w.AsSpan(c * per, per);
            var maxAbs = 0f;
            foreach (var v in span)
            {
                maxAbs = Math.Max(maxAbs, Math.Abs(v));
            }

            var scale = maxAbs > 0 ? maxAbs / qmax : 1f;
            scales[c] = scale;
            for (var i = 0; i < per; i++)
            {
                q[(c * per) + i] = (long)Math.Clamp(Math.Round(span[i] / scale), -qmax, qmax);
            }
        }

        return (q, scales);
    }

    private static OnnxNode Upgrade(OnnxNode node, string source)
    {
        if (node.OpType != "BatchNormalization")
        {
            return node;
        }

        if (node.Int("spatial", 1) != 1)
        {
            throw new NotSupportedException($"Backbone '{source}': {node} normalises per position (spatial = 0), which opset {MinimumOpset} no longer has; int8 quantization needs it moved to opset {MinimumOpset}.");
        }

        return node with { Attributes = [.. node.Attributes.Where(a => a.Name is not ("spatial" or "is_test" or "consumed_inputs"))] };
    }

    /// <summary>Folds every inference BatchNormalization that directly follows a Conv (its only consumer) into that Conv's weights and bias.</summary>
    private static int FoldBatchNorms(List<OnnxNode> nodes, Dictionary<string, OnnxTensor> initializers, string output, string prefix)
    {
        var folded = 0;
        for (var i = 0; i < nodes.Count; i++)
        {
            var bn = nodes[i];
            if (bn.OpType != "BatchNormalization" || bn.Inputs.Count < 5 || bn.Outputs.Count(o => o.Length > 0) != 1)
            {
                continue;
            }

            var x = bn.Inputs[0];
            var convIndex = nodes.FindIndex(n => n.Outputs.Contains(x));
            if (convIndex < 0 || x == output || nodes[convIndex].OpType != "Conv" || nodes.Count(n => n.Inputs.Contains(x)) != 1)
            {
                continue;
            }

            var conv = nodes[convIndex];
            var parts = bn.Inputs.Skip(1).Take(4).Select(n => initializers.GetValueOrDefault(n)?.Floats).ToArray();
            if (conv.Inputs.Count < 2 || !initializers.TryGetValue(conv.Inputs[1], out var w) || w.Floats is null || w.Dims.Length < 3 || parts.Any(v => v is null || v.Length != w.Dims[0]))
            {
                continue;
            }

            float[]? b = null;
            if (conv.OptionalInput(2) is { } biasName)
            {
                if (!initializers.TryGetValue(biasName, out var bias) || bias.Floats is null || bias.Floats.Length != w.Dims[0])
                {
                    continue;
                }

                b = bias.Floats;
            }

            var (gamma, beta, mean, variance) = (parts[0]!, parts[1]!, parts[2]!, parts[3]!);
            var epsilon = bn.Float("epsilon", 1e-5f);
            var channels = (int)w.Dims[0];
            var per = w.Floats.Length / channels;
            var newW = new float[w.Floats.Length];
            var newB = new float[channels];
            for (var c = 0; c < channels; c++)
            {
                var factor = gamma[c] / Math.Sqrt(variance[c] + (double)epsilon);
                for (var k = 0; k < per; k++)
                {
                    newW[(c * per) + k] = (float)(w.Floats[(c * per) + k] * factor);
                }

                newB[c] = (float)((((b?[c] ?? 0f) - mean[c]) * factor) + beta[c]);
            }

            var wName = prefix + conv.Name + "/folded_weight";
            var bName = prefix + conv.Name + "/folded_bias";
            initializers[wName] = new OnnxTensor { Name = wName, Dims = w.Dims, DataType = OnnxTensor.FloatType, Floats = newW };
            initializers[bName] = new OnnxTensor { Name = bName, Dims = [channels], DataType = OnnxTensor.FloatType, Floats = newB };
            nodes[convIndex] = conv with { Inputs = [conv.Inputs[0], wName, bName], Outputs = [bn.Outputs[0]] };
            nodes.RemoveAt(i);
            i--;
            folded++;
        }

        return folded;
    }

    private static (List<string> Activations, HashSet<OnnxNode> FusedRelus, Dictionary<string, string> Shared) ChooseActivations(
        List<OnnxNode> nodes, Dictionary<string, OnnxTensor> initializers, string input, string output)
    {
        // Image data: what derives from the input through operators that keep it float.
        var data = new HashSet<string>(StringComparer.Ordinal) { input };
        foreach (var node in nodes.Where(n => !NonFloatOutputs.Contains(n.OpType) && n.Inputs.Any(data.Contains)))
        {
            data.UnionWith(node.Outputs.Where(o => o.Length > 0));
        }

        var consumers = nodes.SelectMany(n => n.Inputs.Where(i => i.Length > 0).Distinct().Select(i => (Input: i, Node: n)))
            .GroupBy(x => x.Input, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Select(x => x.Node).ToList(), StringComparer.Ordinal);
        var producer = new Dictionary<string, OnnxNode>(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            foreach (var o in node.Outputs.Where(o => o.Length > 0))
            {
                producer[o] = node;
            }
        }

        bool Quantizable(OnnxNode n) => QuantizedOps.Contains(n.OpType) && n.Outputs.Count(o => o.Length > 0) == 1 && (n.OpType != "MaxPool" || n.Outputs.Count == 1);
        List<OnnxNode> ConsumersOf(string t) => consumers.GetValueOrDefault(t) ?? [];

        var fused = new HashSet<OnnxNode>(ReferenceEqualityComparer.Instance);
        foreach (var relu in nodes.Where(n => n.OpType == "Relu" && n.Inputs.Count == 1 && n.Outputs.Count == 1))
        {
            var x = relu.Inputs[0];
            var y = relu.Outputs[0];
            if (x != output && y != output && data.Contains(x) && producer.TryGetValue(x, out var p) && ReluFusers.Contains(p.OpType) && Quantizable(p) &&
                ConsumersOf(x).Count == 1 && ConsumersOf(y).Any(Quantizable))
            {
                fused.Add(relu);
            }
        }

        var renamed = fused.ToDictionary(r => r.Inputs[0], r => r.Outputs[0], StringComparer.Ordinal);
        var chosen = new HashSet<string>(StringComparer.Ordinal);
        var order = new List<string>();
        void Add(string t)
        {
            if (t.Length > 0 && t != output && data.Contains(t) && !initializers.ContainsKey(t) && chosen.Add(t))
            {
                order.Add(t);
            }
        }

        var shared = new Dictionary<string, string>(StringComparer.Ordinal);
        if (nodes.Where(n => !fused.Contains(n)).Any(n => Quantizable(n) && n.Inputs.Contains(input)))
        {
            Add(input);
        }

        foreach (var node in nodes.Where(n => !fused.Contains(n) && Quantizable(n)))
        {
            foreach (var i in node.Inputs.Where(i => i.Length > 0 && (!WeightOps.Contains(node.OpType) || i == node.Inputs[0])))
            {
                Add(i);
            }

            var o = renamed.GetValueOrDefault(node.Outputs[0], node.Outputs[0]);
            Add(o);
            if (node.OpType == "MaxPool" && chosen.Contains(o) && chosen.Contains(node.Inputs[0]))
            {
                shared[o] = shared.GetValueOrDefault(node.Inputs[0], node.Inputs[0]);
            }
        }

        return (order, fused, shared);
    }
}
