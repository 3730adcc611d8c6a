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
            _meanImage = ReadMeanImage(p.MeanImageModelPath, width, height);
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

    /// <summary>The preprocessing model subtracts a constant image; running it once on zeros gives minus that image.</summary>
    private static float[] ReadMeanImage(string modelPath, int width, int height)
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

            var zeros = new float[3 * width * height];
            using var value = OrtValue.CreateTensorValueFromMemory(zeros, dims);
            using var results = session.Run(new RunOptions(), [input.Key], [value], session.OutputNames);
            var output = results[0].GetTensorDataAsSpan<float>();
            var mean = new float[output.Length];
            for (var i = 0; i < mean.Length; i++)
            {
                mean[i] = -output[i];
            }

            return mean;
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelLoadException($"Preprocessing model '{modelPath}' could not be loaded: {e.Message}", e);
        }
    }
}
