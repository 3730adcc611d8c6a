using Microsoft.ML.OnnxRuntime;

namespace PokeClassifier.Backbones.Onnx;

/// <summary>Reads an ONNX model's inputs and outputs, and checks them against what a backbone must be (one NCHW 3-channel float input, a float feature output).</summary>
internal static class OnnxModelInspector
{
    /// <summary>Symbolic height and width (a model exported with dynamic spatial axes) are run at this size.</summary>
    public const int DefaultSize = 224;

    /// <summary>Infers a spec from the model (see <see cref="BackboneSpec.FromOnnx"/>).</summary>
    public static BackboneSpec Inspect(string path, string? outputName, ImagePreprocessing preprocessing)
    {
        if (!File.Exists(path))
        {
            throw new ModelLoadException($"ONNX model '{path}' does not exist.");
        }

        try
        {
            using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC };
            using var session = new InferenceSession(path, options);
            if (session.InputMetadata.Count != 1)
            {
                throw new ModelLoadException($"ONNX model '{path}' has {session.InputMetadata.Count} inputs ({DescribeAll(session.InputMetadata)}); a backbone takes one image tensor [batch,3,height,width].");
            }

            var (inputName, input) = session.InputMetadata.Single();
            var dims = input.Dimensions;
            var problem = InputProblem(input, expectedHeight: null, expectedWidth: null);
            if (problem is not null)
            {
                throw new ModelLoadException($"ONNX model '{path}': input '{inputName}' {Describe(input)} {problem}");
            }

            var height = dims[2] > 0 ? dims[2] : DefaultSize;
            var width = dims[3] > 0 ? dims[3] : DefaultSize;
            string name;
            NodeMetadata output;
            if (outputName is null)
            {
                if (session.OutputMetadata.Count != 1)
                {
                    throw new ModelLoadException($"ONNX model '{path}' has {session.OutputMetadata.Count} outputs ({DescribeAll(session.OutputMetadata)}); name the feature output (outputName).");
                }

                (name, output) = session.OutputMetadata.Single();
            }
            else if (!session.OutputMetadata.TryGetValue(outputName, out output!))
            {
                throw new ModelLoadException($"ONNX model '{path}' has no output '{outputName}'; its outputs are {DescribeAll(session.OutputMetadata)}.");
            }
            else
            {
                name = outputName;
            }

            if (output.ElementType != typeof(float))
            {
                throw new ModelLoadException($"ONNX model '{path}': output '{name}' holds {output.ElementType.Name}; features must be float.");
            }

            var (batchOk, features) = SplitBatch(output.Dimensions);
            if (!batchOk)
            {
                throw new ModelLoadException($"ONNX model '{path}': output '{name}' {Describe(output)} has a batch dimension other than 1 or symbolic.");
            }

            if (features.Any(d => d <= 0))
            {
                features = ProbeFeatureShape(session, inputName, [1, 3, height, width], name);
            }

            return new BackboneSpec
            {
                Name = Path.GetFileNameWithoutExtension(path),
                Engine = BackboneEngine.OnnxRuntime,
                ModelPath = path,
                InputName = inputName,
                OutputName = name,
                InputWidth = width,
                InputHeight = height,
                FeatureLength = features.Aggregate(1, (a, d) => a * d),
                FeatureShape = features,
                Preprocessing = preprocessing,
            };
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelLoadException($"ONNX model '{path}' could not be loaded by ONNX Runtime: {e.Message}", e);
        }
    }

    /// <summary>Why an input cannot take a backbone's image tensor, or <see langword="null"/> when it can.</summary>
    public static string? InputProblem(NodeMetadata input, int? expectedHeight, int? expectedWidth)
    {
        var d = input.Dimensions;
        if (input.ElementType != typeof(float))
        {
            return $"holds {input.ElementType.Name}; a backbone takes float.";
        }

        if (d.Length != 4)
        {
            return $"has rank {d.Length}; a backbone takes [batch,3,height,width] (NCHW).";
        }

        if (d[0] > 1)
        {
            return $"has a fixed batch of {d[0]}; it must be 1 or symbolic.";
        }

        if (d[1] != 3)
        {
            return d[3] == 3
                ? "is channels-last (NHWC); backbones take NCHW [batch,3,height,width]. Export it with an NCHW input (the Keras commands in docs/backbones.md put a Permute layer in front; tf2onnx also has --inputs-as-nchw)."
                : $"has {d[1]} channels; a backbone takes 3 (NCHW).";
        }

        if ((expectedHeight is { } h && d[2] > 0 && d[2] != h) || (expectedWidth is { } w && d[3] > 0 && d[3] != w))
        {
            return $"takes {d[2]} x {d[3]} images, not {expectedHeight} x {expectedWidth}.";
        }

        return null;
    }

    /// <summary>The feature dimensions of an output: all but the leading batch dimension (a rank-1 output has none).</summary>
    public static (bool BatchOk, int[] Features) SplitBatch(int[] dims) =>
        dims.Length >= 2 ? (dims[0] <= 1, dims[1..]) : (true, [.. dims]);

    /// <summary>Whether an output's feature dimensions fit a spec's shape: same number of values, and for a shape of rank 2 or more the same dimensions once dimensions of size 1 are dropped.</summary>
    public static bool ShapeFits(IReadOnlyList<int> specShape, int[] actual)
    {
        var specLength = specShape.Aggregate(1L, (a, d) => a * d);
        var actualLength = actual.Aggregate(1L, (a, d) => a * d);
        return specLength == actualLength && (specShape.Count == 1 || specShape.Where(d => d != 1).SequenceEqual(actual.Where(d => d != 1)));
    }

    /// <summary>Runs zeros through the model once to learn the real shape of an output whose dimensions are symbolic.</summary>
    public static int[] ProbeFeatureShape(InferenceSession session, string inputName, long[] inputShape, string outputName)
    {
        var zeros = new float[inputShape.Aggregate(1L, (a, d) => a * d)];
        using var value = OrtValue.CreateTensorValueFromMemory(zeros, inputShape);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [inputName], [value], [outputName]);
        var shape = results[0].GetTensorTypeAndShape().Shape.Select(d => (int)d).ToArray();
        return SplitBatch(shape).Features;
    }

    /// <summary>A shape as people read it, symbolic dimensions by name: <c>[batch,3,224,224]</c>.</summary>
    public static string Describe(NodeMetadata m) =>
        "[" + string.Join(",", m.Dimensions.Select((d, i) => d >= 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : m.SymbolicDimensions is { } s && i < s.Length && !string.IsNullOrEmpty(s[i]) ? s[i] : "?")) + "]";

    public static string DescribeAll(IReadOnlyDictionary<string, NodeMetadata> nodes) =>
        string.Join(", ", nodes.Select(kv => $"'{kv.Key}' {Describe(kv.Value)}"));
}
