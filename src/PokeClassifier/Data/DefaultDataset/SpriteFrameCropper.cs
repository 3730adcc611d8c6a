using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using SkiaSharp;

namespace PokeClassifier.Data.DefaultDataset;

/// <summary>A rectangle in pixels: left, top, width, height.</summary>
internal readonly record struct PixelBox(int X, int Y, int Width, int Height);

/// <summary>
/// Cuts all frames of one animation to the same square around the sprite and resizes them (FRAME_MODE=crop of
/// <c>tools/build-dataset.sh</c>), and makes the grey thumbnails that frame selection compares.
/// </summary>
internal static class SpriteFrameCropper
{
    /// <summary>The side of the grey thumbnails used as frame signatures.</summary>
    public const int SignatureSide = 32;

    /// <summary>Resampling weights from an image side to <see cref="SignatureSide"/>, made once per side.</summary>
    private static readonly ConcurrentDictionary<int, (int Index, double Weight)[][]> SignatureWeights = new();

    /// <summary>
    /// The bounding box of every pixel that is not white in at least one frame (the trim box of the per-pixel minimum over
    /// all frames). The whole canvas when every frame is blank.
    /// </summary>
    public static PixelBox UnionBoundingBox(FlatFrames frames)
    {
        int width = frames.Width, height = frames.Height;
        int minX = width, minY = height, maxX = -1, maxY = -1;
        foreach (var frame in frames.Frames)
        {
            for (var y = 0; y < height; y++)
            {
                var row = y * width * 4;
                for (var x = 0; x < width; x++)
                {
                    var p = row + (x * 4);
                    if ((frame[p] & frame[p + 1] & frame[p + 2]) != 255)
                    {
                        minX = Math.Min(minX, x);
                        maxX = Math.Max(maxX, x);
                        minY = Math.Min(minY, y);
                        maxY = Math.Max(maxY, y);
                    }
                }
            }
        }

        return maxX < 0 ? new PixelBox(0, 0, width, height) : new PixelBox(minX, minY, maxX - minX + 1, maxY - minY + 1);
    }

    /// <summary>The box grown to a square of side max(w, h) * (100 + 2 * margin) / 100, centred as the script does (integer arithmetic).</summary>
    public static PixelBox SquareAround(PixelBox box, int marginPercent)
    {
        var side = Math.Max(1, Math.Max(box.Width, box.Height) * (100 + (2 * marginPercent)) / 100);
        return new PixelBox(box.X - ((side - box.Width) / 2), box.Y - ((side - box.Height) / 2), side, side);
    }

    /// <summary>Cuts <paramref name="square"/> out of a frame (white outside the canvas) and resizes it to <paramref name="size"/> squared.</summary>
    /// <returns>Opaque RGBA bytes, <paramref name="size"/> x <paramref name="size"/>.</returns>
    public static byte[] CropAndResize(byte[] frame, int width, int height, PixelBox square, int size)
    {
        var side = square.Width;
        var cut = new byte[side * side * 4];
        cut.AsSpan().Fill(255);
        var x0 = Math.Max(0, square.X);
        var x1 = Math.Min(width, square.X + side);
        if (x1 > x0)
        {
            for (var y = Math.Max(0, square.Y); y < Math.Min(height, square.Y + side); y++)
            {
                var from = frame.AsSpan(((y * width) + x0) * 4, (x1 - x0) * 4);
                from.CopyTo(cut.AsSpan((((y - square.Y) * side) + (x0 - square.X)) * 4));
            }
        }

        if (side == size)
        {
            return cut;
        }

        using var source = ToBitmap(cut, side, side);
        using var resized = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Opaque));
        if (!source.ScalePixels(resized, SKFilterQuality.High))
        {
            throw new InvalidOperationException($"SkiaSharp could not resize a {side}x{side} frame to {size}x{size}.");
        }

        return FromBitmap(resized);
    }

    /// <summary>
    /// A 32x32 grey thumbnail of an opaque RGBA image (Rec. 709 luma weights, Lanczos-3), as ImageMagick's
    /// <c>-resize 32x32! -colorspace Gray -depth 8</c> makes it for the script.
    /// </summary>
    public static byte[] Signature(byte[] rgba, int size)
    {
        var grey = new double[size * size];
        for (var i = 0; i < grey.Length; i++)
        {
            grey[i] = (0.212656 * rgba[i * 4]) + (0.715158 * rgba[(i * 4) + 1]) + (0.072186 * rgba[(i * 4) + 2]);
        }

        var weights = SignatureWeights.GetOrAdd(size, side => ResampleWeights(side, SignatureSide));
        var rows = new double[SignatureSide * size];
        for (var y = 0; y < size; y++)
        {
            for (var dx = 0; dx < SignatureSide; dx++)
            {
                double sum = 0;
                foreach (var (index, weight) in weights[dx])
                {
                    sum += grey[(y * size) + index] * weight;
                }

                rows[(y * SignatureSide) + dx] = sum;
            }
        }

        var signature = new byte[SignatureSide * SignatureSide];
        for (var dy = 0; dy < SignatureSide; dy++)
        {
            for (var dx = 0; dx < SignatureSide; dx++)
            {
                double sum = 0;
                foreach (var (index, weight) in weights[dy])
                {
                    sum += rows[(index * SignatureSide) + dx] * weight;
                }

                signature[(dy * SignatureSide) + dx] = (byte)Math.Clamp(Math.Round(sum, MidpointRounding.AwayFromZero), 0, 255);
            }
        }

        return signature;
    }

    /// <summary>Encodes opaque RGBA bytes as an 8-bit RGB PNG (colour type 2, no alpha channel).</summary>
    public static byte[] EncodePng(byte[] rgba, int size)
    {
        using var bitmap = ToBitmap(rgba, size, size);
        using var pixmap = bitmap.PeekPixels();
        using var png = pixmap.Encode(new SKPngEncoderOptions(SKPngEncoderFilterFlags.AllFilters, 6))
            ?? throw new InvalidOperationException("SkiaSharp could not encode a PNG.");
        return png.ToArray();
    }

    /// <summary>
    /// For each destination pixel, the source pixels that contribute to it and their normalised weights: a Lanczos-3 filter
    /// widened by the scale factor when shrinking, with the sample positions ImageMagick's <c>-resize</c> uses.
    /// </summary>
    private static (int Index, double Weight)[][] ResampleWeights(int sourceSize, int targetSize)
    {
        var scale = (double)sourceSize / targetSize;
        var stretch = Math.Max(1.0, scale);
        var support = 3.0 * stretch;
        var weights = new (int, double)[targetSize][];
        for (var d = 0; d < targetSize; d++)
        {
            var centre = (d + 0.5) * scale;
            var start = Math.Max(0, (int)(centre - support + 0.5));
            var stop = Math.Min(sourceSize, (int)(centre + support + 0.5));
            var list = new List<(int, double)>();
            double total = 0;
            for (var s = start; s < stop; s++)
            {
                var w = Lanczos3((s - centre + 0.5) / stretch);
                list.Add((s, w));
                total += w;
            }

            weights[d] = total == 0 ? [.. list] : [.. list.Select(p => (p.Item1, p.Item2 / total))];
        }

        return weights;
    }

    private static double Lanczos3(double x)
    {
        x = Math.Abs(x);
        if (x < 1e-12)
        {
            return 1;
        }

        if (x >= 3)
        {
            return 0;
        }

        var px = Math.PI * x;
        return 3 * Math.Sin(px) * Math.Sin(px / 3) / (px * px);
    }

    private static SKBitmap ToBitmap(byte[] rgba, int width, int height)
    {
        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var address = bitmap.GetPixels();
        for (var y = 0; y < height; y++)
        {
            Marshal.Copy(rgba, y * width * 4, address + (y * bitmap.RowBytes), width * 4);
        }

        return bitmap;
    }

    private static byte[] FromBitmap(SKBitmap bitmap)
    {
        var width = bitmap.Width;
        var rgba = new byte[width * bitmap.Height * 4];
        var address = bitmap.GetPixels();
        for (var y = 0; y < bitmap.Height; y++)
        {
            Marshal.Copy(address + (y * bitmap.RowBytes), rgba, y * width * 4, width * 4);
        }

        return rgba;
    }
}
