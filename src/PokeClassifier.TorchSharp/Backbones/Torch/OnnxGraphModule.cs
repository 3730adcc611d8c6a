using System.Globalization;
using PokeClassifier.Backbones.Onnx;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PokeClassifier.Backbones.Torch;

/// <summary>
/// An ONNX graph as a trainable TorchSharp module, built by <see cref="OnnxTorchImporter"/>: every Conv, BatchNormalization, Gemm
/// and MatMul with constant weights owns a real <c>Conv2d</c>, <c>BatchNorm2d</c> or <c>Linear</c> module holding the weights as
/// parameters (and running statistics as buffers); the nodes run in topological order, each intermediate tensor freed after its
/// last use. The graph is cut into <see cref="Blocks"/> (runs of nodes between tensors that every path crosses) so that a trainer
/// can freeze everything below one block, cache the activations there and train the rest.
/// </summary>
/// <remarks>
/// Batch normalisation: a BatchNormalization node runs with its running statistics (inference semantics) while the module, or the
/// node's <c>BatchNorm2d</c>, is in eval mode — always for frozen nodes. In train mode it normalises with the batch's statistics and
/// updates the running ones with ONNX's momentum (torch momentum = 1 − ONNX momentum). The fine-tuner keeps every batch norm in
/// eval mode unless told otherwise (see <c>FineTuneOptions.UpdateBatchNormStatistics</c>).
/// </remarks>
internal sealed class OnnxGraphModule : Module<Tensor, Tensor>
{
    private readonly List<Step> _steps;
    // ONNX tensor name -> buffer name. The constants are read through the module's buffers on every run, not held: moving the module
    // to another device (Module.to) replaces each buffer by a new tensor and frees the old one.
    private readonly Dictionary<string, string> _constants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _lastUse;
    private readonly List<Module> _owned = [];

    internal OnnxGraphModule(string inputName, string outputName, List<Step> steps, Dictionary<string, Tensor> constants, OnnxModel source)
        : base(nameof(OnnxGraphModule))
    {
        InputName = inputName;
        OutputName = outputName;
        _steps = steps;
        Source = source;
        foreach (var (i, step) in _steps.Index())
        {
            if (step.Module is { } module)
            {
                register_module(string.Create(CultureInfo.InvariantCulture, $"n{i}_{step.Node.OpType}"), module);
                _owned.Add(module);
            }
        }

        foreach (var (name, value) in constants)
        {
            var buffer = "c_" + Sanitize(name);
            register_buffer(buffer, value);
            _constants[name] = buffer;
        }

        _lastUse = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < _steps.Count; i++)
        {
            foreach (var input in _steps[i].Node.Inputs.Where(n => n.Length > 0))
            {
                _lastUse[input] = i;
            }
        }

        _lastUse[OutputName] = int.MaxValue;
        Blocks = ComputeBlocks();
    }

    /// <summary>The graph input (the image tensor).</summary>
    public string InputName { get; }

    /// <summary>The graph output this module computes (the features).</summary>
    public string OutputName { get; }

    /// <summary>The model the module was imported from (opsets, node attributes; the exporter writes from it).</summary>
    public OnnxModel Source { get; }

    /// <summary>The nodes in execution order, as the module runs them (an AveragePool over the whole map is a GlobalAveragePool here).</summary>
    public IReadOnlyList<OnnxNode> Nodes => _steps.Select(s => s.Node).ToArray();

    /// <summary>Number of nodes.</summary>
    public int NodeCount => _steps.Count;

    /// <summary>The blocks, input side first: runs of nodes between single-tensor cuts that hold at least one Conv, Gemm or MatMul.</summary>
    public IReadOnlyList<GraphBlock> Blocks { get; }

    /// <summary>The first node that trains (nodes before it are frozen); <see cref="NodeCount"/> when everything is frozen.</summary>
    public int TrainableFrom { get; private set; }

    /// <summary>Sets which nodes train: those at index <paramref name="firstTrainable"/> and after. Parameters of the others are frozen.</summary>
    public void SetTrainableFrom(int firstTrainable)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstTrainable);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(firstTrainable, _steps.Count);
        TrainableFrom = firstTrainable;
        for (var i = 0; i < _steps.Count; i++)
        {
            if (_steps[i].Module is { } module)
            {
                foreach (var p in module.parameters())
                {
                    p.requires_grad = i >= firstTrainable;
                }
            }
        }
    }

    /// <summary>
    /// Puts the module in eval mode, except (when <paramref name="batchNormStatistics"/>) the batch norms of trainable nodes, which
    /// then normalise with batch statistics and update their running ones.
    /// </summary>
    public void SetMode(bool batchNormStatistics)
    {
        eval();
        if (!batchNormStatistics)
        {
            return;
        }

        for (var i = TrainableFrom; i < _steps.Count; i++)
        {
            if (_steps[i].Node.OpType == "BatchNormalization")
            {
                _steps[i].Module!.train();
            }
        }
    }

    /// <summary>Replaces the function of node <paramref name="index"/> by one that reads and writes the same tensors.</summary>
    internal void ReplaceStep(int index, Step step)
    {
        if (!step.Node.Inputs.SequenceEqual(_steps[index].Node.Inputs) || !step.Node.Outputs.SequenceEqual(_steps[index].Node.Outputs) || step.Module is not null || _steps[index].Module is not null)
        {
            throw new ArgumentException("A replacement step must read and write the same tensors and hold no weights.", nameof(step));
        }

        _steps[index] = step;
    }

    /// <summary>The parameters of nodes in [<paramref name="from"/>, <paramref name="to"/>).</summary>
    public IEnumerable<TorchSharp.Modules.Parameter> ParametersOf(int from, int to) =>
        _steps.Skip(from).Take(to - from).Where(s => s.Module is not null).SelectMany(s => s.Module!.parameters());

    /// <summary>Index of the node named <paramref name="name"/>, or of the node that produces the tensor of that name.</summary>
    /// <exception cref="ArgumentException">No such node or tensor; the message lists the block starts.</exception>
    public int IndexOf(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var index = _steps.FindIndex(s => s.Node.Name == name);
        if (index < 0)
        {
            index = _steps.FindIndex(s => s.Node.Outputs.Contains(name));
        }

        return index >= 0 ? index : throw new ArgumentException(
            $"The backbone graph has no node or tensor named '{name}'. Its blocks start at: {string.Join(", ", Blocks.Select(b => $"'{b.FirstNodeName}'"))}.", nameof(name));
    }

    /// <summary>The tensors computed before node <paramref name="index"/> that nodes from <paramref name="index"/> on read (the graph input at 0).</summary>
    public IReadOnlyList<string> Frontier(int index)
    {
        if (index >= _steps.Count)
        {
            return [OutputName];
        }

        var produced = new HashSet<string>(StringComparer.Ordinal) { InputName };
        foreach (var step in _steps.Take(index))
        {
            produced.UnionWith(step.Node.Outputs);
        }

        return _steps.Skip(index).SelectMany(s => s.Node.Inputs).Where(produced.Contains).Distinct(StringComparer.Ordinal).ToArray();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var values = Run(new Dictionary<string, Tensor>(StringComparer.Ordinal) { [InputName] = input }, 0, _steps.Count, [OutputName]);
        return values[OutputName];
    }

    /// <summary>Runs nodes [0, <paramref name="index"/>) and returns the <see cref="Frontier"/> tensors at <paramref name="index"/>.</summary>
    public Dictionary<string, Tensor> RunPrefix(Tensor input, int index) =>
        Run(new Dictionary<string, Tensor>(StringComparer.Ordinal) { [InputName] = input }, 0, index, Frontier(index));

    /// <summary>Runs nodes [<paramref name="index"/>, end) from the frontier tensors and returns the output.</summary>
    public Tensor RunSuffix(IReadOnlyDictionary<string, Tensor> frontier, int index) =>
        Run(new Dictionary<string, Tensor>(frontier, StringComparer.Ordinal), index, _steps.Count, [OutputName])[OutputName];

    /// <summary>The current weights (and running statistics) by initializer name, in the layout the ONNX graph stores them.</summary>
    public Dictionary<string, float[]> ExportWeights()
    {
        var weights = new Dictionary<string, float[]>(StringComparer.Ordinal);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var step in _steps)
        {
            step.Export?.Invoke(weights);
        }

        return weights;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var module in _owned)
            {
                module.Dispose();
            }

            foreach (var buffer in _constants.Values)
            {
                get_buffer(buffer)?.Dispose();
            }
        }

        base.Dispose(disposing);
    }

    internal static string Sanitize(string name) => new(name.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').ToArray());

    private Dictionary<string, Tensor> Run(Dictionary<string, Tensor> values, int from, int to, IReadOnlyList<string> wanted)
    {
        var external = new HashSet<string>(values.Keys, StringComparer.Ordinal);
        var keep = new HashSet<string>(wanted, StringComparer.Ordinal);
        var arguments = new List<Tensor?>(8);
        try
        {
            for (var i = from; i < to; i++)
            {
                var step = _steps[i];
                arguments.Clear();
                foreach (var name in step.Node.Inputs)
                {
                    arguments.Add(name.Length == 0 ? null : values.TryGetValue(name, out var v) ? v : _constants.TryGetValue(name, out var c) ? get_buffer(c) : null);
                }

                var outputs = step.Run(arguments);
                for (var o = 0; o < outputs.Length && o < step.Node.Outputs.Count; o++)
                {
                    values[step.Node.Outputs[o]] = outputs[o];
                }

                for (var o = step.Node.Outputs.Count; o < outputs.Length; o++)
                {
                    outputs[o].Dispose();
                }

                // Free what no later node reads (the autograd graph keeps its own references to what backward needs).
                foreach (var name in step.Node.Inputs.Concat(step.Node.Outputs))
                {
                    if (name.Length > 0 && !external.Contains(name) && !keep.Contains(name) && _lastUse.GetValueOrDefault(name, -1) <= i && values.Remove(name, out var dead))
                    {
                        dead.Dispose();
                    }
                }
            }
        }
        catch
        {
            foreach (var (name, value) in values)
            {
                if (!external.Contains(name))
                {
                    value.Dispose();
                }
            }

            throw;
        }

        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var name in wanted)
        {
            if (!values.Remove(name, out var value))
            {
                throw new InvalidOperationException($"The graph did not compute '{name}'.");
            }

            result[name] = value;
        }

        foreach (var (name, value) in values)
        {
            if (!external.Contains(name))
            {
                value.Dispose();
            }
        }

        return result;
    }

    private List<GraphBlock> ComputeBlocks()
    {
        // A cut sits before node p when exactly one activation crosses it: produced before p, read at p or later.
        var producedAt = new Dictionary<string, int>(StringComparer.Ordinal) { [InputName] = -1 };
        for (var i = 0; i < _steps.Count; i++)
        {
            foreach (var o in _steps[i].Node.Outputs)
            {
                producedAt[o] = i;
            }
        }

        var cuts = new List<int> { 0 };
        for (var p = 1; p < _steps.Count; p++)
        {
            var crossing = producedAt.Count(kv => kv.Value < p && _lastUse.GetValueOrDefault(kv.Key, -1) >= p);
            if (crossing == 1)
            {
                cuts.Add(p);
            }
        }

        cuts.Add(_steps.Count);
        var segments = new List<(int Start, int End)>();
        for (var i = 0; i + 1 < cuts.Count; i++)
        {
            segments.Add((cuts[i], cuts[i + 1]));
        }

        // Segments without a Conv/Gemm/MatMul (a batch norm, an activation, a pooling) join the block before them.
        var merged = new List<(int Start, int End)>();
        foreach (var segment in segments)
        {
            var weighted = Enumerable.Range(segment.Start, segment.End - segment.Start).Any(i => _steps[i].IsWeightedLayer);
            if (weighted || merged.Count == 0)
            {
                merged.Add(segment);
            }
            else
            {
                merged[^1] = (merged[^1].Start, segment.End);
            }
        }

        if (merged.Count > 1 && !Enumerable.Range(merged[0].Start, merged[0].End - merged[0].Start).Any(i => _steps[i].IsWeightedLayer))
        {
            merged[1] = (merged[0].Start, merged[1].End);
            merged.RemoveAt(0);
        }

        return merged.Select((m, i) => new GraphBlock
        {
            Index = i,
            Start = m.Start,
            End = m.End,
            FirstNodeName = _steps.Count == 0 ? string.Empty : _steps[m.Start].Node.Name is { Length: > 0 } n ? n : _steps[m.Start].Node.Outputs[0],
            ParameterCount = _steps.Skip(m.Start).Take(m.End - m.Start).Where(s => s.Module is not null).SelectMany(s => s.Module!.parameters()).Sum(p => p.numel()),
        }).ToList();
    }

    /// <summary>One node ready to run: its module (for weighted nodes), its function, and how it writes its weights back.</summary>
    internal sealed class Step
    {
        public required OnnxNode Node { get; init; }

        public required Func<IReadOnlyList<Tensor?>, Tensor[]> Run { get; init; }

        public Module? Module { get; init; }

        /// <summary>Conv, Gemm or MatMul with its own weights: what makes a block.</summary>
        public bool IsWeightedLayer { get; init; }

        public Action<Dictionary<string, float[]>>? Export { get; init; }
    }
}

/// <summary>A block of an imported graph: nodes [<see cref="Start"/>, <see cref="End"/>) between two single-tensor cuts.</summary>
internal sealed record GraphBlock
{
    public int Index { get; init; }

    public int Start { get; init; }

    public int End { get; init; }

    public string FirstNodeName { get; init; } = string.Empty;

    public long ParameterCount { get; init; }
}
