using System.Globalization;

namespace PokeClassifier.Backbones.Onnx;

/// <summary>
/// Writes the image side of an exported model: an input of 0..255 RGB pixels, the backbone's preprocessing as ONNX operators, and the
/// backbone's graph (copied node by node with its attributes' original bytes, optionally with new weights), ending at its features.
/// </summary>
/// <remarks>
/// Preprocessing ops, in the order and with the constants of the library's own <see cref="Preprocessor"/> (so both compute the same
/// floats): <c>Gather</c> on the channel axis when the backbone wants another plane order (BGR), <c>Mul</c> by PixelScale/Std and
/// <c>Add</c> of −Mean/Std when they are not the identity, <c>Sub</c> of the mean image when the backbone has one (ML.NET's ResNet18).
/// The model keeps the backbone's default-domain opset version (at least 7), and every node added here exists with the same meaning
/// in every version from 7 on.
/// </remarks>
internal static class OnnxPipelineWriter
{
    /// <summary>The prefix of the tensors and nodes this library adds (a number is appended when the backbone already uses it).</summary>
    public const string BasePrefix = "pokeclassifier/";

    /// <summary>Starts a model: pixels in, the backbone's features out (not yet declared as an output).</summary>
    /// <param name="graph">The backbone graph.</param>
    /// <param name="preprocessing">The backbone's preprocessing.</param>
    /// <param name="width">Input width.</param>
    /// <param name="height">Input height.</param>
    /// <param name="inputName">The name of the pixel input.</param>
    /// <param name="nodes">The nodes to write (a fine-tuned module's); <see langword="null"/> for the graph's own, pruned to the feature output.</param>
    /// <param name="weights">Float initializers to write instead of the graph's (fine-tuned weights), by name.</param>
    /// <returns>The builder, the name of the feature tensor, and the prefix to give every name added after it.</returns>
    /// <exception cref="NotSupportedException">The graph uses an opset before 7 or nodes of another domain.</exception>
    public static (OnnxGraphBuilder Builder, string Features, string Prefix) Begin(
        BackboneGraph graph, ImagePreprocessing preprocessing, int width, int height, string inputName,
        IReadOnlyList<OnnxNode>? nodes = null, IReadOnlyDictionary<string, float[]>? weights = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(preprocessing);
        var model = graph.Model;
        var opset = model.DefaultOpset;
        if (opset < 7)
        {
            throw new NotSupportedException($"Backbone '{graph.Source}' uses ONNX opset {opset}; export needs opset 7 or later.");
        }

        nodes ??= Needed(model.Graph, graph.OutputName);
        var names = nodes.SelectMany(n => n.Inputs.Concat(n.Outputs).Append(n.Name)).Where(n => n.Length > 0).ToHashSet(StringComparer.Ordinal);
        var prefix = BasePrefix;
        for (var i = 2; names.Any(n => n.StartsWith(prefix, StringComparison.Ordinal)); i++)
        {
            prefix = string.Create(CultureInfo.InvariantCulture, $"pokeclassifier{i}/");
        }

        // The pixel input may be the backbone's own input only when there is nothing to do in between (a backbone exported with its
        // preprocessing inside, as a fine-tuned one is).
        var sameInput = inputName == graph.InputName;
        if ((names.Contains(inputName) && !sameInput) || (sameInput && !IsIdentity(preprocessing)))
        {
            throw new NotSupportedException($"Backbone '{graph.Source}' already uses the name '{inputName}'; choose another input name.");
        }

        var builder = new OnnxGraphBuilder("pokeclassifier", opset);
        builder.AddInput(inputName, [OnnxDim.Batch, 3, height, width]);
        if (!sameInput)
        {
            WritePreprocessing(builder, preprocessing, width, height, inputName, graph.InputName, prefix);
        }

        var written = new HashSet<string>(StringComparer.Ordinal);
        var unnamed = 0;
        foreach (var node in nodes)
        {
            if (node.Domain is not ("" or "ai.onnx"))
            {
                throw new NotSupportedException($"Backbone '{graph.Source}': {node} belongs to domain '{node.Domain}', which the exporter does not copy.");
            }

            foreach (var input in node.Inputs.Where(i => i.Length > 0 && written.Add(i)))
            {
                if (weights is not null && weights.TryGetValue(input, out var values))
                {
                    builder.AddInitializer(input, model.Graph.Initializers[input].Dims, values);
                }
                else if (model.Graph.Initializers.TryGetValue(input, out var tensor))
                {
                    builder.AddInitializer(tensor);
                }
            }

            var name = node.Name.Length > 0 ? node.Name : string.Create(CultureInfo.InvariantCulture, $"{prefix}node{unnamed++}");
            builder.AddNamedNode(node.OpType, name, node.Inputs, node.Outputs, [.. node.Attributes]);
        }

        return (builder, graph.OutputName, prefix);
    }

    /// <summary>
    /// Makes a model begun by <see cref="Begin"/> average the features of the image and of its mirror image (as
    /// <c>FeaturizerOptions.FlipAveraging</c> does): the pixels mirrored with a <c>Gather</c> on the width axis, the preprocessing and
    /// the backbone's nodes written a second time with their tensors renamed (weights shared), then the mean of both feature tensors.
    /// </summary>
    /// <returns>The name of the averaged feature tensor.</returns>
    public static string AddMirrorAverage(
        OnnxGraphBuilder builder, BackboneGraph graph, ImagePreprocessing preprocessing, int width, int height, string inputName, string features, string prefix,
        IReadOnlyList<OnnxNode>? nodes = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(graph);
        var mirror = prefix + "mirror/";
        builder.AddInt64Initializer(mirror + "columns", [width], Enumerable.Range(0, width).Select(x => (long)(width - 1 - x)).ToArray());
        builder.AddNamedNode("Gather", mirror + "flip", [inputName, mirror + "columns"], [mirror + "flipped"], OnnxAttribute.Int("axis", 3));
        nodes ??= Needed(graph.Model.Graph, graph.OutputName);

        // Every tensor a node computes (and the backbone's input) gets the mirror prefix; weights and constants keep their names.
        var computed = nodes.SelectMany(n => n.Outputs).Where(o => o.Length > 0).Append(graph.InputName).ToHashSet(StringComparer.Ordinal);
        string Rename(string name) => name.Length > 0 && computed.Contains(name) ? mirror + name : name;
        if (IsIdentity(preprocessing))
        {
            builder.AddNamedNode("Identity", mirror + "preprocess", [mirror + "flipped"], [Rename(graph.InputName)]);
        }
        else
        {
            WritePreprocessing(builder, preprocessing, width, height, mirror + "flipped", Rename(graph.InputName), mirror, constants: prefix);
        }

        var unnamed = 0;
        foreach (var node in nodes)
        {
            var name = string.Create(CultureInfo.InvariantCulture, $"{mirror}{(node.Name.Length > 0 ? node.Name : $"node{unnamed++}")}");
            builder.AddNamedNode(node.OpType, name, [.. node.Inputs.Select(Rename)], [.. node.Outputs.Select(Rename)], [.. node.Attributes]);
        }

        builder.AddNamedNode("Sum", prefix + "views_sum", [features, Rename(features)], [prefix + "views_total"]);
        builder.AddInitializer(prefix + "views_half", [], [0.5f]);
        builder.AddNamedNode("Mul", prefix + "views_mean", [prefix + "views_total", prefix + "views_half"], [prefix + "features_mean"]);
        return prefix + "features_mean";
    }

    /// <summary>Whether the preprocessing leaves 0..255 RGB pixels as they are.</summary>
    public static bool IsIdentity(ImagePreprocessing p) =>
        p.ChannelOrder == ChannelOrder.Rgb && p.MeanImageModelPath is null && PreprocessingGraph.IsIdentity(p);

    /// <summary>The nodes the output depends on, in file order.</summary>
    public static List<OnnxNode> Needed(OnnxGraph graph, string output)
    {
        var producer = new Dictionary<string, OnnxNode>(StringComparer.Ordinal);
        foreach (var node in graph.Nodes)
        {
            foreach (var o in node.Outputs.Where(o => o.Length > 0))
            {
                producer[o] = node;
            }
        }

        var needed = new HashSet<OnnxNode>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<string>([output]);
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

    /// <summary>Writes the preprocessing from <paramref name="input"/> to <paramref name="output"/>, naming what it adds with <paramref name="prefix"/>;
    /// with <paramref name="constants"/>, the prefix of the constants an earlier call already wrote (shared, not written again).</summary>
    private static void WritePreprocessing(OnnxGraphBuilder builder, ImagePreprocessing p, int width, int height, string input, string output, string prefix, string? constants = null)
    {
        var preprocessor = new Preprocessor(p, width, height, resizeMeanImage: true);
        var steps = new List<(string Op, string Operand)>();
        var shared = constants is not null;
        var c = constants ?? prefix;
        if (!preprocessor.SourcePlane.SequenceEqual([0, 1, 2]))
        {
            if (!shared)
            {
                builder.AddInt64Initializer(c + "planes", [3], preprocessor.SourcePlane.Select(i => (long)i).ToArray());
            }

            steps.Add(("Gather", c + "planes"));
        }

        if (preprocessor.Scale.Any(s => s != 1f))
        {
            if (!shared)
            {
                builder.AddInitializer(c + "scale", [1, 3, 1, 1], preprocessor.Scale.ToArray());
            }

            steps.Add(("Mul", c + "scale"));
        }

        if (preprocessor.Offset.Any(o => o != 0f))
        {
            if (!shared)
            {
                builder.AddInitializer(c + "offset", [1, 3, 1, 1], preprocessor.Offset.ToArray());
            }

            steps.Add(("Add", c + "offset"));
        }

        if (preprocessor.MeanImage is { } mean)
        {
            if (!shared)
            {
                builder.AddInitializer(c + "mean_image", [1, 3, height, width], mean);
            }

            steps.Add(("Sub", c + "mean_image"));
        }

        if (steps.Count == 0)
        {
            builder.AddNamedNode("Identity", prefix + "preprocess", [input], [output]);
            return;
        }

        var current = input;
        for (var i = 0; i < steps.Count; i++)
        {
            var (op, operand) = steps[i];
            var result = i == steps.Count - 1 ? output : string.Create(CultureInfo.InvariantCulture, $"{prefix}preprocess{i}");
            var attributes = op == "Gather" ? new[] { OnnxAttribute.Int("axis", 1) } : [];
            builder.AddNamedNode(op, string.Create(CultureInfo.InvariantCulture, $"{prefix}preprocess_{op}"), [current, operand], [result], attributes);
            current = result;
        }
    }
}
