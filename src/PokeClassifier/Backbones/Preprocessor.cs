using System.Numerics;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace PokeClassifier.Backbones;

/// <summary>Turns decoded RGBA pixels into a backbone's NCHW input, following its <see cref="ImagePreprocessing"/>.</summary>
internal sealed class Preprocessor
{
    private readonly float[] _scale = new float[3];
    private readonly float[] _offset = new float[3];
    private readonly float[]? _meanImage;
    private readonly int[] _sourcePlane;

    /// <param name="p">The preprocessing.</param>
    /// <param name="width">Input width.</param>
    /// <param name="height">Input height.</param>
    /// <param name="resizeMeanImage">
    /// Whether a mean image of another size than <paramref name="width"/> x <paramref name="height"/> is resized (bilinear, half-pixel
    /// centres) rather than refused: fine-tuning runs ML.NET's ResNet18 at other sizes than its 224 x 224.
    /// </param>
    public Preprocessor(ImagePreprocessing p, int width, int height, bool resizeMeanImage = false)
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
            (_meanImage, inputPlaneOfOutput) = ReadAffineModel(p.MeanImageModelPath, width, height, resizeMeanImage);
            _sourcePlane = inputPlaneOfOutput.Select(i => _sourcePlane[i]).ToArray();
        }
    }

    public int Width { get; }

    public int Height { get; }

    public int TensorLength => 3 * Width * Height;

    /// <summary>Per output plane: the factor applied to the 0..255 pixel (PixelScale / Std).</summary>
    internal IReadOnlyList<float> Scale => _scale;

    /// <summary>Per output plane: the offset added after scaling (-Mean / Std).</summary>
    internal IReadOnlyList<float> Offset => _offset;

    /// <summary>For each output plane, the RGB plane (0 R, 1 G, 2 B) it is taken from.</summary>
    internal IReadOnlyList<int> SourcePlane => _sourcePlane;

    /// <summary>The mean image subtracted last, [3, Height, Width] in output plane order; <see langword="null"/> when there is none.</summary>
    internal float[]? MeanImage => _meanImage;

    /// <summary>Writes the tensor for one image (RGBA, Width x Height) into <paramref name="tensor"/>.</summary>
    /// <remarks>
    /// Vectorised: each pixel is read as one little-endian 32-bit word, its channel shifted and masked out eight (AVX2) or sixteen
    /// (AVX-512) pixels at a time; the arithmetic is the scalar loop's, operation for operation (no fused multiply-add), so the
    /// result is bit-identical to it.
    /// </remarks>
    public void Fill(ReadOnlySpan<byte> rgba, Span<float> tensor)
    {
        var plane = Width * Height;
        var pixels = BitConverter.IsLittleEndian ? MemoryMarshal.Cast<byte, uint>(rgba[..(plane * 4)]) : default;
        var lanes = Vector<uint>.Count;
        var mask = new Vector<uint>(0xFF);
        for (var c = 0; c < 3; c++)
        {
            var src = _sourcePlane[c];
            float scale = _scale[c], offset = _offset[c];
            var dst = tensor.Slice(c * plane, plane);
            var mean = _meanImage is null ? default : _meanImage.AsSpan(c * plane, plane);
            var i = 0;
            if (BitConverter.IsLittleEndian && Vector.IsHardwareAccelerated)
            {
                var shift = 8 * src;
                var vScale = new Vector<float>(scale);
                var vOffset = new Vector<float>(offset);
                for (; i <= plane - lanes; i += lanes)
                {
                    var channel = Vector.ConvertToSingle(Vector.AsVectorInt32(Vector.ShiftRightLogical(new Vector<uint>(pixels[i..]), shift) & mask));
                    var value = (channel * vScale) + vOffset;
                    if (_meanImage is not null)
                    {
                        value -= new Vector<float>(mean[i..]);
                    }

                    value.CopyTo(dst[i..]);
                }
            }

            for (; i < plane; i++)
            {
                var value = (rgba[(i * 4) + src] * scale) + offset;
                dst[i] = _meanImage is null ? value : value - mean[i];
            }
        }
    }

    /// <summary>
    /// Reads a preprocessing model that permutes the colour planes and subtracts a constant image (ML.NET's ResNetPreprocess.onnx
    /// turns RGB into BGR and subtracts a BGR mean image). Probing it with zeros gives minus the mean image; probing with one plane
    /// set to one shows where that plane goes. Anything other than a plane permutation plus a constant is refused.
    /// </summary>
    private static (float[] MeanImage, int[] InputPlaneOfOutput) ReadAffineModel(string modelPath, int width, int height, bool allowResize)
    {
        try
        {
            using var options = new SessionOptions { IntraOpNumThreads = 1 };
            using var session = new InferenceSession(modelPath, options);
            var input = session.InputMetadata.Single();
            var dims = input.Value.Dimensions.Select(d => (long)(d < 0 ? 1 : d)).ToArray();
            if (dims.Length != 4 || dims[1] != 3 || (allowResize ? dims[2] < 1 || dims[3] < 1 : dims[2] != height || dims[3] != width))
            {
                throw new ModelLoadException($"Preprocessing model '{modelPath}' takes [{string.Join(",", dims)}]; expected [1,3,{height},{width}].");
            }

            int modelHeight = (int)dims[2], modelWidth = (int)dims[3];
            var plane = modelWidth * modelHeight;
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

            var mean = zero.Select(v => -v).ToArray();
            return (modelWidth == width && modelHeight == height ? mean : ResizeBilinear(mean, modelWidth, modelHeight, width, height), inputOf);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelLoadException($"Preprocessing model '{modelPath}' could not be loaded: {e.Message}", e);
        }
    }

    /// <summary>Bilinear resampling of [3, h, w] planes with half-pixel centres (torch's <c>interpolate(mode="bilinear", align_corners=False)</c>).</summary>
    internal static float[] ResizeBilinear(float[] planes, int width, int height, int newWidth, int newHeight)
    {
        var result = new float[3 * newWidth * newHeight];
        for (var c = 0; c < 3; c++)
        {
            var src = planes.AsSpan(c * width * height, width * height);
            for (var y = 0; y < newHeight; y++)
            {
                var sy = Math.Clamp(((y + 0.5) * height / newHeight) - 0.5, 0, height - 1);
                int y0 = (int)sy, y1 = Math.Min(y0 + 1, height - 1);
                var fy = sy - y0;
                for (var x = 0; x < newWidth; x++)
                {
                    var sx = Math.Clamp(((x + 0.5) * width / newWidth) - 0.5, 0, width - 1);
                    int x0 = (int)sx, x1 = Math.Min(x0 + 1, width - 1);
                    var fx = sx - x0;
                    var top = (src[(y0 * width) + x0] * (1 - fx)) + (src[(y0 * width) + x1] * fx);
                    var bottom = (src[(y1 * width) + x0] * (1 - fx)) + (src[(y1 * width) + x1] * fx);
                    result[(c * newWidth * newHeight) + (y * newWidth) + x] = (float)((top * (1 - fy)) + (bottom * fy));
                }
            }
        }

        return result;
    }
}
