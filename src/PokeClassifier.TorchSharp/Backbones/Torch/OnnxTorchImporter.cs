using System.Globalization;
using PokeClassifier.Backbones.Onnx;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PokeClassifier.Backbones.Torch;

/// <summary>
/// Turns an ONNX CNN into a trainable <see cref="OnnxGraphModule"/>: the weights of Conv, BatchNormalization, Gemm and MatMul nodes
/// become parameters of real TorchSharp modules, the other nodes become functions. This is how an ONNX backbone (the offline
/// ML.NET ResNet18 among them) is fine-tuned. Only the nodes the chosen output needs are imported.
/// </summary>
/// <remarks>
/// Operators: Conv (2-D; pads, auto_pad, strides, dilations, group, bias), BatchNormalization, Relu, LeakyRelu, Sigmoid, Clip,
/// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, Add, Sum, Sub, Mul, Div, Concat, Split, Flatten, Reshape (constant shape),
/// Transpose, Squeeze, Unsqueeze, Gemm (transA, transB, alpha, beta), MatMul, Dropout and Identity (identity), Softmax, Constant.
/// Anything else is refused with a <see cref="ModelLoadException"/> naming the operator and the node. An AveragePool without padding
/// whose kernel covers its whole input at the model's declared size (CNTK's ResNet18 ends with a 7 x 7 one) runs as a
/// GlobalAveragePool: the same numbers at that size, and the module then takes other input sizes too.
/// </remarks>
internal static class OnnxTorchImporter
{
    /// <summary>The operators the importer knows.</summary>
    public static readonly IReadOnlySet<string> SupportedOperators = new SortedSet<string>(StringComparer.Ordinal)
    {
        "Conv", "BatchNormalization", "Relu", "LeakyRelu", "Sigmoid", "Clip", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
        "Add", "Sum", "Sub", "Mul", "Div", "Concat", "Split", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Gemm", "MatMul",
        "Dropout", "Identity", "Softmax", "Constant",
    };

    /// <summary>Imports a model file.</summary>
    /// <param name="path">The ONNX file.</param>
    /// <param name="outputName">The output to compute; <see langword="null"/> for the model's only output.</param>
    /// <exception cref="ModelLoadException">The model cannot be read or uses something the importer does not support.</exception>
    public static OnnxGraphModule Import(string path, string? outputName = null) => Import(OnnxModelReader.Read(path), outputName, path);

    /// <summary>Imports a model already read.</summary>
    /// <param name="model">The model.</param>
    /// <param name="outputName">The output to compute; <see langword="null"/> for the model's only output.</param>
    /// <param name="source">Names the model in error messages.</param>
    /// <exception cref="ModelLoadException">The model uses something the importer does not support.</exception>
    public static OnnxGraphModule Import(OnnxModel model, string? outputName = null, string source = "model")
    {
        ArgumentNullException.ThrowIfNull(model);
        TorchRuntime.EnsureInitialized();
        var graph = model.Graph;
        var dataInputs = graph.DataInputs.ToList();
        if (dataInputs.Count != 1)
        {
            throw new ModelLoadException($"ONNX model '{source}' has {dataInputs.Count} data inputs ({string.Join(", ", dataInputs)}); the importer takes models with one image input.");
        }

        var input = dataInputs[0];
        if (outputName is null)
        {
            outputName = graph.Outputs.Count == 1 ? graph.Outputs[0].Name
                : throw new ModelLoadException($"ONNX model '{source}' has {graph.Outputs.Count} outputs ({string.Join(", ", graph.Outputs)}); name the one to import.");
        }

        var opset = model.DefaultOpset;
        var nodes = Order(Prune(graph, outputName, source), input.Name, graph, source);
        var constants = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var context = new Context(graph, opset, source, constants);
        var steps = new List<OnnxGraphModule.Step>();
        OnnxGraphModule? module = null;
        try
        {
            foreach (var node in nodes)
            {
                if (node.OpType == "Constant" && node.Domain is "" or "ai.onnx")
                {
                    context.AddConstantNode(node);
                    continue;
                }

                steps.Add(context.Build(node));
            }

            // Float initializers that non-weighted nodes read (preprocessing constants, Add/Mul operands) become buffers.
            foreach (var step in steps.Where(s => s.Module is null))
            {
                foreach (var name in step.Node.Inputs)
                {
                    if (name.Length > 0 && !constants.ContainsKey(name) && graph.Initializers.TryGetValue(name, out var init) && init.Floats is not null)
                    {
                        constants[name] = tensor(init.Floats, init.Dims);
                    }
                }
            }

            module = new OnnxGraphModule(input.Name, outputName, steps, constants, model);
            RewriteFullMapAveragePools(module, input, source);
            module.eval();
            return module;
        }
        catch
        {
            if (module is not null)
            {
                module.Dispose();
            }
            else
            {
                foreach (var step in steps)
                {
                    step.Module?.Dispose();
                }

                foreach (var constant in constants.Values)
                {
                    constant.Dispose();
                }
            }

            throw;
        }
    }

    /// <summary>Only the nodes the output depends on.</summary>
    private static List<OnnxNode> Prune(OnnxGraph graph, string outputName, string source)
    {
        var producer = new Dictionary<string, OnnxNode>(StringComparer.Ordinal);
        foreach (var node in graph.Nodes)
        {
            foreach (var output in node.Outputs.Where(o => o.Length > 0))
            {
                producer[output] = node;
            }
        }

        if (!producer.ContainsKey(outputName))
        {
            throw new ModelLoadException($"ONNX model '{source}' has no node that computes '{outputName}'; its outputs are {string.Join(", ", graph.Outputs)}.");
        }

        var needed = new HashSet<OnnxNode>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<string>([outputName]);
        while (pending.TryPop(out var name))
        {
            if (producer.TryGetValue(name, out var node) && needed.Add(node))
            {
                foreach (var i in node.Inputs.Where(i => i.Length > 0))
                {
                    pending.Push(i);
                }
            }
        }

        return graph.Nodes.Where(needed.Contains).ToList();
    }

    /// <summary>A topological order, keeping the file's order where it already is one; every input must be known.</summary>
    private static List<OnnxNode> Order(List<OnnxNode> nodes, string inputName, OnnxGraph graph, string source)
    {
        var available = new HashSet<string>(graph.Initializers.Keys, StringComparer.Ordinal) { inputName };
        var produced = new HashSet<string>(nodes.SelectMany(n => n.Outputs), StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            foreach (var i in node.Inputs.Where(i => i.Length > 0 && !available.Contains(i) && !produced.Contains(i)))
            {
                throw new ModelLoadException($"ONNX model '{source}': {node} reads '{i}', which is neither the image input, an initializer nor the output of a node.");
            }
        }

        var ordered = new List<OnnxNode>(nodes.Count);
        var remaining = new List<OnnxNode>(nodes);
        while (remaining.Count > 0)
        {
            var ready = remaining.FindIndex(n => n.Inputs.All(i => i.Length == 0 || available.Contains(i)));
            if (ready < 0)
            {
                throw new ModelLoadException($"ONNX model '{source}' has a cycle through {remaining[0]}.");
            }

            var node = remaining[ready];
            remaining.RemoveAt(ready);
            ordered.Add(node);
            available.UnionWith(node.Outputs);
        }

        return ordered;
    }

    /// <summary>Runs zeros at the declared input size once; AveragePools whose kernel is their whole input become global ones.</summary>
    private static void RewriteFullMapAveragePools(OnnxGraphModule probe, OnnxValueInfo input, string source)
    {
        var candidates = probe.Nodes.Select((n, i) => (n, i)).Where(x => x.n.OpType == "AveragePool").ToList();
        if (candidates.Count == 0 || input.Shape is not { Count: 4 } shape || shape.Skip(1).Any(d => d.IsSymbolic))
        {
            return;
        }

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        probe.eval();
        foreach (var (node, index) in candidates)
        {
            var kernel = node.Ints("kernel_shape");
            var pads = node.Ints("pads");
            if (kernel is not { Count: 2 } || (pads is not null && pads.Any(p => p != 0)) || node.Int("ceil_mode", 0) != 0 || node.String("auto_pad", "NOTSET") is not ("NOTSET" or "VALID"))
            {
                continue;
            }

            var frontier = probe.RunPrefix(zeros([1, shape[1].Value, shape[2].Value, shape[3].Value]), index);
            if (frontier.TryGetValue(node.Inputs[0], out var map) && map.dim() == 4 && map.shape[2] == kernel[0] && map.shape[3] == kernel[1])
            {
                var rewritten = node with { OpType = "GlobalAveragePool", Attributes = [] };
                probe.ReplaceStep(index, new OnnxGraphModule.Step { Node = rewritten, Run = a => [Need(a, 0, rewritten, source).mean([2L, 3L], keepdim: true)] });
            }
        }
    }

    private static Tensor Need(IReadOnlyList<Tensor?> arguments, int index, OnnxNode node, string source) =>
        index < arguments.Count && arguments[index] is { } t ? t : throw new ModelLoadException($"ONNX model '{source}': {node} is missing input {index}.");

    /// <summary>Builds the steps of one model; holds its constants.</summary>
    private sealed class Context(OnnxGraph graph, long opset, string source, Dictionary<string, Tensor> constants)
    {
        private readonly Dictionary<string, OnnxTensor> _nodeConstants = new(StringComparer.Ordinal);
        private readonly HashSet<string> _weightsTaken = new(StringComparer.Ordinal);

        public void AddConstantNode(OnnxNode node)
        {
            OnnxTensor value;
            if (node.Attribute("value") is { TensorValue: { } t })
            {
                value = t;
            }
            else if (node.Attribute("value_float") is { } f)
            {
                value = new OnnxTensor { Dims = [], DataType = OnnxTensor.FloatType, Floats = [f.FloatValue] };
            }
            else if (node.Attribute("value_floats") is { } fs)
            {
                value = new OnnxTensor { Dims = [fs.FloatValues.Count], DataType = OnnxTensor.FloatType, Floats = [.. fs.FloatValues] };
            }
            else if (node.Attribute("value_int") is { } i)
            {
                value = new OnnxTensor { Dims = [], DataType = OnnxTensor.Int64Type, Int64s = [i.IntValue] };
            }
            else if (node.Attribute("value_ints") is { } ints)
            {
                value = new OnnxTensor { Dims = [ints.IntValues.Count], DataType = OnnxTensor.Int64Type, Int64s = [.. ints.IntValues] };
            }
            else
            {
                throw Unsupported(node, "a Constant without a tensor, float or int value");
            }

            if (value.Floats is null && value.Int64s is null)
            {
                throw Unsupported(node, $"a constant of ONNX element type {value.DataType}");
            }

            _nodeConstants[node.Outputs[0]] = value with { Name = node.Outputs[0] };
            if (value.Floats is not null)
            {
                constants[node.Outputs[0]] = tensor(value.Floats, value.Dims);
            }
        }

        public OnnxGraphModule.Step Build(OnnxNode node)
        {
            if (node.Domain is not ("" or "ai.onnx"))
            {
                throw Unsupported(node, $"domain '{node.Domain}'");
            }

            return node.OpType switch
            {
                "Conv" => Conv(node),
                "BatchNormalization" => BatchNorm(node),
                "Gemm" => Gemm(node),
                "MatMul" => MatMul(node),
                "Relu" => Unary(node, x => functional.relu(x)),
                "Sigmoid" => Unary(node, x => x.sigmoid()),
                "LeakyRelu" => Unary(node, x => functional.leaky_relu(x, node.Float("alpha", 0.01f))),
                "Clip" => Clip(node),
                "Identity" or "Dropout" => Unary(node, x => x.alias()),
                "MaxPool" => MaxPool(node),
                "Pad" => ConstantPad(node),
                "AveragePool" => AveragePool(node),
                "GlobalAveragePool" => Unary(node, x => x.mean(Enumerable.Range(2, (int)x.dim() - 2).Select(d => (long)d).ToArray(), keepdim: true)),
                "GlobalMaxPool" => Unary(node, x => x.amax(Enumerable.Range(2, (int)x.dim() - 2).Select(d => (long)d).ToArray(), keepdim: true)),
                "Add" => Binary(node, (a, b) => a + b),
                "Sub" => Binary(node, (a, b) => a - b),
                "Mul" => Binary(node, (a, b) => a * b),
                "Div" => Binary(node, (a, b) => a / b),
                "Sum" => Simple(node, a => !a.Any(t => t is not null) ? throw Unsupported(node, "no inputs") : a.Where(t => t is not null).Skip(1).Aggregate(a.First(t => t is not null)!.alias(), (s, t) => s + t!)),
                "Concat" => Simple(node, a => cat(a.Where(t => t is not null).Select(t => t!).ToArray(), node.Int("axis", 1))),
                "Split" => Split(node),
                "Flatten" => Unary(node, x =>
                {
                    var axis = (int)node.Int("axis", 1);
                    axis = axis < 0 ? axis + (int)x.dim() : axis;
                    var outer = x.shape.Take(axis).Aggregate(1L, (p, d) => p * d);
                    return x.reshape(outer, -1);
                }),
                "Reshape" => Reshape(node),
                "Transpose" => Unary(node, x => x.permute(node.Ints("perm")?.ToArray() ?? Enumerable.Range(0, (int)x.dim()).Reverse().Select(d => (long)d).ToArray())),
                "Squeeze" => Squeeze(node),
                "Unsqueeze" => Unsqueeze(node),
                "Softmax" => Softmax(node),
                _ => throw new ModelLoadException(
                    $"ONNX model '{source}': node '{node.DisplayName}' uses operator '{node.OpType}', which the TorchSharp importer does not support. " +
                    $"Supported operators: {string.Join(", ", SupportedOperators)}."),
            };
        }

        private ModelLoadException Unsupported(OnnxNode node, string what) =>
            new($"ONNX model '{source}': {node} uses {what}, which the TorchSharp importer does not support.");

        private static OnnxGraphModule.Step Simple(OnnxNode node, Func<IReadOnlyList<Tensor?>, Tensor> run) => new() { Node = node, Run = a => [run(a)] };

        private OnnxGraphModule.Step Unary(OnnxNode node, Func<Tensor, Tensor> run) => Simple(node, a => run(Need(a, 0, node, source)));

        private OnnxGraphModule.Step Binary(OnnxNode node, Func<Tensor, Tensor, Tensor> run)
        {
            if (opset < 7 && node.Int("broadcast", 0) != 0 && node.Attribute("axis") is not null)
            {
                throw Unsupported(node, "legacy broadcasting with an axis (opset < 7)");
            }

            foreach (var i in node.Inputs.Where(i => i.Length > 0 && graph.Initializers.TryGetValue(i, out var t) && t.Floats is null))
            {
                throw Unsupported(node, $"the integer constant '{i}' as an arithmetic operand");
            }

            return Simple(node, a => run(Need(a, 0, node, source), Need(a, 1, node, source)));
        }

        private OnnxTensor? ConstantOf(string name) =>
            _nodeConstants.TryGetValue(name, out var c) ? c : graph.Initializers.TryGetValue(name, out var i) ? i : null;

        private float[] Weights(OnnxNode node, string name, out long[] dims)
        {
            var t = ConstantOf(name);
            if (t?.Floats is null)
            {
                throw Unsupported(node, $"'{name}' as a computed or non-float weight (weights must be float initializers)");
            }

            if (!_weightsTaken.Add(name))
            {
                throw Unsupported(node, $"the weight '{name}', which another layer also uses (shared weights)");
            }

            dims = t.Dims;
            return t.Floats;
        }

        private OnnxGraphModule.Step Conv(OnnxNode node)
        {
            var w = Weights(node, node.Inputs[1], out var wDims);
            if (wDims.Length != 4)
            {
                throw Unsupported(node, $"a {wDims.Length - 2}-D convolution (weight [{string.Join(",", wDims)}]); only 2-D is supported");
            }

            var group = node.Int("group", 1);
            var biasName = node.OptionalInput(2);
            var bias = biasName is null ? null : Weights(node, biasName, out _);
            var conv = Conv2d(wDims[1] * group, wDims[0], (wDims[2], wDims[3]), groups: group, bias: bias is not null);
            using (no_grad())
            {
                // Each source tensor is a local disposed after its copy: a temporary passed inline would be reachable from nothing
                // during the native copy, so a collection on another thread could finalize (free) it mid-copy.
                using var weight = tensor(w, wDims);
                conv.weight!.copy_(weight);
                if (bias is not null)
                {
                    using var b = tensor(bias, [wDims[0]]);
                    conv.bias!.copy_(b);
                }
            }

            var strides = Pair(node.Ints("strides"), 1);
            var dilations = Pair(node.Ints("dilations"), 1);
            var kernel = new[] { wDims[2], wDims[3] };
            var weightName = node.Inputs[1];
            return new OnnxGraphModule.Step
            {
                Node = node,
                Module = conv,
                IsWeightedLayer = true,
                Run = a =>
                {
                    var x = Need(a, 0, node, source);
                    var (padded, pads) = Pad(node, x, kernel, strides, dilations, 0);
                    try
                    {
                        return [functional.conv2d(padded, conv.weight!, conv.bias, strides, pads, dilations, group)];
                    }
                    finally
                    {
                        if (!ReferenceEquals(padded, x))
                        {
                            padded.Dispose();
                        }
                    }
                },
                Export = into =>
                {
                    into[weightName] = conv.weight!.detach().contiguous().data<float>().ToArray();
                    if (biasName is not null)
                    {
                        into[biasName] = conv.bias!.detach().contiguous().data<float>().ToArray();
                    }
                },
            };
        }

        private OnnxGraphModule.Step BatchNorm(OnnxNode node)
        {
            if (node.Int("spatial", 1) != 1)
            {
                throw Unsupported(node, "spatial=0 (per-activation batch normalisation)");
            }

            if (node.Outputs.Count(o => o.Length > 0) > 1)
            {
                throw Unsupported(node, "training-mode outputs (mean, var)");
            }

            var names = node.Inputs.Take(5).ToArray();
            var scale = Weights(node, names[1], out var dims);
            var shift = Weights(node, names[2], out _);
            var mean = Weights(node, names[3], out _);
            var variance = Weights(node, names[4], out _);
            var channels = dims.Aggregate(1L, (p, d) => p * d);
            var epsilon = node.Float("epsilon", 1e-5f);
            var momentum = 1.0 - node.Float("momentum", 0.9f);
            var norm = BatchNorm2d(channels, eps: epsilon, momentum: momentum);
            using (no_grad())
            {
                using var scaleTensor = tensor(scale);
                using var shiftTensor = tensor(shift);
                using var meanTensor = tensor(mean);
                using var varianceTensor = tensor(variance);
                norm.weight!.copy_(scaleTensor);
                norm.bias!.copy_(shiftTensor);
                norm.running_mean!.copy_(meanTensor);
                norm.running_var!.copy_(varianceTensor);
            }

            return new OnnxGraphModule.Step
            {
                Node = node,
                Module = norm,
                Run = a => [functional.batch_norm(Need(a, 0, node, source), norm.running_mean!, norm.running_var!, norm.weight, norm.bias, norm.training, momentum, epsilon)],
                Export = into =>
                {
                    into[names[1]] = norm.weight!.detach().data<float>().ToArray();
                    into[names[2]] = norm.bias!.detach().data<float>().ToArray();
                    into[names[3]] = norm.running_mean!.detach().data<float>().ToArray();
                    into[names[4]] = norm.running_var!.detach().data<float>().ToArray();
                },
            };
        }

        private OnnxGraphModule.Step Gemm(OnnxNode node)
        {
            var transA = node.Int("transA", 0) != 0;
            var transB = node.Int("transB", 0) != 0;
            var alpha = node.Float("alpha", 1f);
            var beta = node.Float("beta", 1f);
            var bName = node.Inputs[1];
            var cName = node.OptionalInput(2);
            var b = ConstantOf(bName);
            if (b?.Floats is null || b.Dims.Length != 2)
            {
                throw Unsupported(node, $"a computed or non-2-D second operand '{bName}' (Gemm needs constant weights)");
            }

            _ = Weights(node, bName, out var bDims);
            var outFeatures = transB ? bDims[0] : bDims[1];
            var inFeatures = transB ? bDims[1] : bDims[0];
            var c = cName is null ? null : ConstantOf(cName);
            if (cName is not null && (c?.Floats is null || (c.ElementCount != outFeatures && c.ElementCount != 1)))
            {
                throw Unsupported(node, $"the bias '{cName}' of shape [{string.Join(",", c?.Dims ?? [])}] (expected {outFeatures} values or one)");
            }

            var perOutputBias = c is not null && c.ElementCount == outFeatures;
            if (perOutputBias)
            {
                _ = Weights(node, cName!, out _);
            }

            var linear = Linear(inFeatures, outFeatures, hasBias: perOutputBias);
            using (no_grad())
            {
                using var bt = tensor(b.Floats, bDims);
                using var transposed = transB ? null : bt.t();
                linear.weight!.copy_(transposed ?? bt);
                if (perOutputBias)
                {
                    using var biasTensor = tensor(c!.Floats!);
                    linear.bias!.copy_(biasTensor);
                }
            }

            var scalarBias = c is not null && !perOutputBias ? c.Floats![0] : 0f;
            return new OnnxGraphModule.Step
            {
                Node = node,
                Module = linear,
                IsWeightedLayer = true,
                Run = a =>
                {
                    var x = Need(a, 0, node, source);
                    using var xt = transA ? x.t() : x.alias();
                    if (alpha == 1f && beta == 1f && scalarBias == 0f)
                    {
                        return [functional.linear(xt, linear.weight!, linear.bias)];
                    }

                    using var product = functional.linear(xt, linear.weight!);
                    using var scaled = alpha == 1f ? product.alias() : product * alpha;
                    if (linear.bias is null)
                    {
                        return [scalarBias == 0f ? scaled.alias() : scaled + (beta * scalarBias)];
                    }

                    using var shift = beta == 1f ? linear.bias.alias() : linear.bias * beta;
                    return [scaled + shift];
                },
                Export = into =>
                {
                    using var w = linear.weight!.detach();
                    into[bName] = (transB ? w.contiguous() : w.t().contiguous()).data<float>().ToArray();
                    if (perOutputBias)
                    {
                        into[cName!] = linear.bias!.detach().data<float>().ToArray();
                    }
                },
            };
        }

        private OnnxGraphModule.Step MatMul(OnnxNode node)
        {
            var bName = node.Inputs[1];
            var b = ConstantOf(bName);
            if (b?.Floats is null || b.Dims.Length != 2)
            {
                // Two activations (or a batched constant): a plain product, nothing to train.
                return Binary(node, (x, y) => x.matmul(y));
            }

            _ = Weights(node, bName, out var dims);
            var linear = Linear(dims[0], dims[1], hasBias: false);
            using (no_grad())
            {
                using var bt = tensor(b.Floats, dims);
                using var transposed = bt.t();
                linear.weight!.copy_(transposed);
            }

            return new OnnxGraphModule.Step
            {
                Node = node,
                Module = linear,
                IsWeightedLayer = true,
                Run = a => [functional.linear(Need(a, 0, node, source), linear.weight!)],
                Export = into =>
                {
                    using var w = linear.weight!.detach();
                    into[bName] = w.t().contiguous().data<float>().ToArray();
                },
            };
        }

        private OnnxGraphModule.Step Clip(OnnxNode node)
        {
            float? min = null, max = null;
            if (opset < 11)
            {
                min = node.Attribute("min") is null ? null : node.Float("min", float.MinValue);
                max = node.Attribute("max") is null ? null : node.Float("max", float.MaxValue);
            }
            else
            {
                foreach (var (index, set) in new[] { (1, (Action<float>)(v => min = v)), (2, v => max = v) })
                {
                    if (node.OptionalInput(index) is { } name)
                    {
                        var c = ConstantOf(name);
                        set(c?.Floats is { Length: 1 } f ? f[0] : throw Unsupported(node, $"a computed bound '{name}'"));
                    }
                }
            }

            return Unary(node, x => x.clamp(min.HasValue ? (Scalar)min.Value : null, max.HasValue ? (Scalar)max.Value : null));
        }

        private OnnxGraphModule.Step MaxPool(OnnxNode node)
        {
            if (node.Outputs.Count(o => o.Length > 0) > 1)
            {
                throw Unsupported(node, "the Indices output");
            }

            var kernel = Pair(node.Ints("kernel_shape"), 1);
            var strides = Pair(node.Ints("strides"), 1);
            var dilations = Pair(node.Ints("dilations"), 1);
            var ceil = node.Int("ceil_mode", 0) != 0;
            return Unary(node, x =>
            {
                var (padded, pads) = Pad(node, x, kernel, strides, dilations, float.NegativeInfinity);
                try
                {
                    return functional.max_pool2d(padded, kernel, strides, pads, dilations, ceil);
                }
                finally
                {
                    if (!ReferenceEquals(padded, x))
                    {
                        padded.Dispose();
                    }
                }
            });
        }

        /// <summary>ONNX Pad in constant mode (Keras' ZeroPadding2D): pads [x1_begin, x2_begin, ..., x1_end, ...] become torch's last-dimension-first pairs.</summary>
        private OnnxGraphModule.Step ConstantPad(OnnxNode node)
        {
            if (node.Attribute("mode") is { } mode && mode.StringValue is not "constant")
            {
                throw Unsupported(node, $"mode '{mode.StringValue}'");
            }

            var pads = opset < 11
                ? node.Ints("pads")?.ToArray() ?? throw Unsupported(node, "a Pad without pads")
                : ConstantOf(node.Inputs.ElementAtOrDefault(1) ?? string.Empty)?.Int64s ?? throw Unsupported(node, "computed pads");
            var value = opset < 11 ? node.Float("value", 0f) : node.OptionalInput(2) is { } v ? ConstantOf(v)?.Floats is { Length: 1 } f ? f[0] : throw Unsupported(node, "a computed pad value") : 0f;
            if (pads.Any(p => p < 0))
            {
                throw Unsupported(node, "negative pads (cropping)");
            }

            var rank = pads.Length / 2;
            var torchPads = Enumerable.Range(0, rank).Reverse().SelectMany(d => new[] { pads[d], pads[d + rank] }).ToArray();
            return Unary(node, x => functional.pad(x, torchPads, PaddingModes.Constant, value));
        }

        private OnnxGraphModule.Step AveragePool(OnnxNode node)
        {
            var kernel = Pair(node.Ints("kernel_shape"), 1);
            var strides = Pair(node.Ints("strides"), 1);
            var ceil = node.Int("ceil_mode", 0) != 0;
            var includePad = node.Int("count_include_pad", 0) != 0;
            return Unary(node, x =>
            {
                var (padded, pads) = Pad(node, x, kernel, strides, [1, 1], includePad ? 0f : float.NaN);
                try
                {
                    return functional.avg_pool2d(padded, kernel, strides, pads, ceil, includePad);
                }
                finally
                {
                    if (!ReferenceEquals(padded, x))
                    {
                        padded.Dispose();
                    }
                }
            });
        }

        private OnnxGraphModule.Step Split(OnnxNode node)
        {
            var axis = node.Int("axis", 0);
            IReadOnlyList<long>? sizes = node.Ints("split");
            if (node.OptionalInput(1) is { } splitName)
            {
                sizes = ConstantOf(splitName)?.Int64s ?? throw Unsupported(node, $"a computed split '{splitName}'");
            }

            var count = node.Outputs.Count;
            return new OnnxGraphModule.Step
            {
                Node = node,
                Run = a =>
                {
                    var x = Need(a, 0, node, source);
                    var dim = axis < 0 ? axis + x.dim() : axis;
                    var parts = sizes?.ToArray() ?? Enumerable.Repeat(x.shape[dim] / count, count).ToArray();
                    return x.split(parts, dim).Select(t => t.contiguous()).ToArray();
                },
            };
        }

        private OnnxGraphModule.Step Reshape(OnnxNode node)
        {
            long[] target;
            if (opset < 5)
            {
                target = node.Ints("shape")?.ToArray() ?? throw Unsupported(node, "a Reshape without a shape");
            }
            else
            {
                var name = node.Inputs.ElementAtOrDefault(1) ?? string.Empty;
                target = ConstantOf(name)?.Int64s ?? throw Unsupported(node, $"a computed target shape '{name}' (Reshape needs a constant shape)");
            }

            var allowZero = node.Int("allowzero", 0) != 0;
            return Unary(node, x =>
            {
                var shape = target.Select((d, i) => d == 0 && !allowZero ? x.shape[i] : d).ToArray();
                return x.reshape(shape);
            });
        }

        private OnnxGraphModule.Step Squeeze(OnnxNode node)
        {
            var axes = AxesOf(node);
            return Unary(node, x =>
            {
                var dims = axes?.Select(a => a < 0 ? a + x.dim() : a).ToHashSet() ?? Enumerable.Range(0, (int)x.dim()).Where(d => x.shape[d] == 1).Select(d => (long)d).ToHashSet();
                return x.reshape(x.shape.Where((_, i) => !dims.Contains(i)).ToArray());
            });
        }

        private OnnxGraphModule.Step Unsqueeze(OnnxNode node)
        {
            var axes = AxesOf(node) ?? throw Unsupported(node, "an Unsqueeze without axes");
            return Unary(node, x =>
            {
                var rank = x.dim() + axes.Count;
                var inserted = axes.Select(a => a < 0 ? a + rank : a).ToHashSet();
                var shape = new List<long>();
                var source = 0;
                for (var d = 0L; d < rank; d++)
                {
                    shape.Add(inserted.Contains(d) ? 1 : x.shape[source++]);
                }

                return x.reshape([.. shape]);
            });
        }

        private IReadOnlyList<long>? AxesOf(OnnxNode node) =>
            node.OptionalInput(1) is { } name ? ConstantOf(name)?.Int64s ?? throw Unsupported(node, $"computed axes '{name}'") : node.Ints("axes");

        private OnnxGraphModule.Step Softmax(OnnxNode node)
        {
            var axis = node.Int("axis", opset < 13 ? 1 : -1);
            return Unary(node, x =>
            {
                var dim = axis < 0 ? axis + x.dim() : axis;
                if (opset >= 13 || dim == x.dim() - 1)
                {
                    return functional.softmax(x, dim);
                }

                // Before opset 13 the input is seen as 2-D: [prod(dims before axis), prod(dims from axis)].
                using var flat = x.reshape(x.shape.Take((int)dim).Aggregate(1L, (p, d) => p * d), -1);
                using var soft = functional.softmax(flat, 1);
                return soft.reshape(x.shape);
            });
        }

        /// <summary>
        /// The symmetric padding to pass to the operator, padding <paramref name="x"/> by hand first when ONNX's begin and end pads
        /// differ in a way that changes the result (CNTK writes [3,3,2,2] where [3,3,3,3] gives the same windows).
        /// </summary>
        private (Tensor Padded, long[] Pads) Pad(OnnxNode node, Tensor x, long[] kernel, long[] strides, long[] dilations, float value)
        {
            if (x.dim() != 4)
            {
                throw Unsupported(node, $"a {x.dim()}-D input (only 4-D NCHW is supported)");
            }

            var autoPad = node.String("auto_pad", "NOTSET");
            long[] begin = [0, 0], end = [0, 0];
            if (autoPad is "SAME_UPPER" or "SAME_LOWER")
            {
                for (var d = 0; d < 2; d++)
                {
                    var size = x.shape[2 + d];
                    var output = (size + strides[d] - 1) / strides[d];
                    var total = Math.Max(0, ((output - 1) * strides[d]) + ((kernel[d] - 1) * dilations[d]) + 1 - size);
                    begin[d] = autoPad == "SAME_UPPER" ? total / 2 : total - (total / 2);
                    end[d] = total - begin[d];
                }
            }
            else if (autoPad != "VALID" && node.Ints("pads") is { Count: 4 } pads)
            {
                begin = [pads[0], pads[1]];
                end = [pads[2], pads[3]];
            }

            var ceil = node.Int("ceil_mode", 0) != 0;
            long Out(long size, int d, long before, long after)
            {
                var span = size + before + after - (((kernel[d] - 1) * dilations[d]) + 1);
                return (ceil ? (span + strides[d] - 1) / strides[d] : span / strides[d]) + 1;
            }

            var symmetric = true;
            for (var d = 0; d < 2; d++)
            {
                var size = x.shape[2 + d];
                symmetric &= begin[d] == end[d] || Out(size, d, begin[d], end[d]) == Out(size, d, begin[d], begin[d]);
            }

            if (symmetric && begin[0] * 2 <= kernel[0] && begin[1] * 2 <= kernel[1])
            {
                return (x, begin);
            }

            if (float.IsNaN(value))
            {
                throw Unsupported(node, "asymmetric padding with count_include_pad=0");
            }

            return (functional.pad(x, [begin[1], end[1], begin[0], end[0]], PaddingModes.Constant, value), [0, 0]);
        }

        private static long[] Pair(IReadOnlyList<long>? values, long fallback) => values is { Count: 2 } ? [values[0], values[1]] : [fallback, fallback];
    }

    /// <summary>Describes an operator histogram of a model, for messages and docs (<c>Conv x22, BatchNormalization x22, ...</c>).</summary>
    public static string DescribeOperators(OnnxModel model) =>
        string.Join(", ", model.Graph.Nodes.GroupBy(n => n.OpType).OrderByDescending(g => g.Count()).Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Key} x{g.Count()}")));
}
