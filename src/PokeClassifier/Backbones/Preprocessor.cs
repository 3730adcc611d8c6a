using Microsoft.ML.OnnxRuntime;

namespace PokeClassifier.Backbones;

/// <summary>Turns decoded RGBA pixels into a backbone's NCHW input, following its <see cref="ImagePreprocessing"/>.</summary>
internal sealed class Preprocessor
{
    private readonly float[] _scale = new float[3];
    private readonly float[] _offset = new float[3];
    private readonly float[]? _meanImage;
    private readonly int[] _sourcePlane;

    public Preprocessor(ImagePreprocessing p, int width, int height)
    {
        Width = width;
        Height = height;
        for (var c = 0; c < 3; c++)
        {
            // (pixel * scale - mean) / std == pixel * (scale / std) - mean / std
            _scale[c] = p.PixelScale / p.Std[c];
            _offset[c] = -p.Mean[c] / p.Std[c];
        }

        _sourcePlane = p.ChannelOrder == ChannelOrder.Rgb ? [0, 1, 2] : [2, 1, 0];
        if (p.MeanImageModelPath is not null)
        {
            int[] inputPlaneOfOutput;
            (_meanImage, inputPlaneOfOutput) = ReadAffineModel(p.MeanImageModelPath, width, height);
            _sourcePlane = inputPlaneOfOutput.Select(i => _sourcePlane[i]).ToArray();
        }
    }

    public int Width { get; }

    public int Height { get; }

    public int TensorLength => 3 * Width * Height;

    /// <summary>Writes the tensor for one image (RGBA, Width x Height) into <paramref name="tensor"/>.</summary>
    public void Fill(ReadOnlySpan<byte> rgba, Span<float> tensor)
    {
        var plane = Width * Height;
        for (var c = 0; c < 3; c++)
        {
            var src = _sourcePlane[c];
            float scale = _scale[c], offset = _offset[c];
            var dst = tensor.Slice(c * plane, plane);
            for (var i = 0; i < plane; i++)
            {
                dst[i] = (rgba[(i * 4) + src] * scale) + offset;
            }

            if (_meanImage is not null)
            {
                var mean = _meanImage.AsSpan(c * plane, plane);
                for (var i = 0; i < plane; i++)
                {
                    dst[i] -= mean[i];
                }
            }
        }
    }

    /// <summary>
    /// Reads a preprocessing model that permutes the colour planes and subtracts a constant image (ML.NET's ResNetPreprocess.onnx
    /// turns RGB into BGR and subtracts a BGR mean image). Probing it with zeros gives minus the mean image; probing with one plane
    /// set to one shows where that plane goes. Anything other than a plane permutation plus a constant is refused.
    /// </summary>
    private static (float[] MeanImage, int[] InputPlaneOfOutput) ReadAffineModel(string modelPath, int width, int height)
    {
        try
        {
            using var options = new SessionOptions { IntraOpNumThreads = 1 };
            using var session = new InferenceSession(modelPath, options);
            var input = session.InputMetadata.Single();
            var dims = input.Value.Dimensions.Select(d => (long)(d < 0 ? 1 : d)).ToArray();
            if (dims.Length != 4 || dims[1] != 3 || dims[2] != height || dims[3] != width)
            {
                throw new ModelLoadException($"Preprocessing model '{modelPath}' takes [{string.Join(",", dims)}]; expected [1,3,{height},{width}].");
            }

            var plane = width * height;
            float[] Probe(int hotPlane)
            {
                var x = new float[3 * plane];
                if (hotPlane >= 0)
                {
                    x.AsSpan(hotPlane * plane, plane).Fill(1f);
                }

                using var value = OrtValue.CreateTensorValueFromMemory(x, dims);
                using var runOptions = new RunOptions();
                using var results = session.Run(runOptions, [input.Key], [value], session.OutputNames);
                return results[0].GetTensorDataAsSpan<float>().ToArray();
            }

            var zero = Probe(-1);
            var inputOf = new int[3];
            Array.Fill(inputOf, -1);
            for (var c = 0; c < 3; c++)
            {
                var response = Probe(c);
                for (var o = 0; o < 3; o++)
                {
                    var moved = true;
                    for (var i = 0; i < plane && moved; i++)
                    {
                        var d = response[(o * plane) + i] - zero[(o * plane) + i];
                        moved = Math.Abs(d - 1f) < 1e-4f;
                    }

                    if (moved)
                    {
                        inputOf[o] = c;
                    }
                }
            }

            if (inputOf.Any(i => i < 0) || inputOf.Distinct().Count() != 3)
            {
                throw new ModelLoadException($"Preprocessing model '{modelPath}' is not a colour-plane permutation plus a constant image; such models are not supported.");
            }

            return (zero.Select(v => -v).ToArray(), inputOf);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelLoadException($"Preprocessing model '{modelPath}' could not be loaded: {e.Message}", e);
        }
    }
}
