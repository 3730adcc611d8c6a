using System.Runtime.InteropServices;
using SkiaSharp;

namespace PokeClassifier.Data;

/// <summary>
/// Decodes image bytes by content (never by extension) into an opaque RGBA bitmap of a requested size:
/// EXIF orientation applied, alpha flattened onto white, huge images reduced while decoding so that memory stays bounded.
/// </summary>
internal static class ImageDecoder
{
    /// <summary>Images with more pixels than this (after the codec's own scaling) are reduced row by row while decoding.</summary>
    internal const long DefaultMaxDecodePixels = 4096L * 4096L;

    /// <summary>Images larger than this are refused outright (a 60000 x 60000 "image" is a decompression bomb).</summary>
    internal const long MaxImagePixels = 50_000L * 50_000L;

    private static readonly SKEncodedImageFormat[] SupportedFormats =
    [
        SKEncodedImageFormat.Jpeg, SKEncodedImageFormat.Png, SKEncodedImageFormat.Gif, SKEncodedImageFormat.Bmp,
        SKEncodedImageFormat.Webp, SKEncodedImageFormat.Ico, SKEncodedImageFormat.Wbmp,
    ];

    /// <summary>Decodes and resizes (stretching to fill) to <paramref name="width"/> x <paramref name="height"/>.</summary>
    /// <returns>RGBA bytes, row-major, alpha 255 everywhere.</returns>
    /// <exception cref="InvalidImageException">The bytes are not a usable image; the reason says why.</exception>
    public static byte[] DecodeRgba(byte[] bytes, string path, int width, int height, long maxDecodePixels = DefaultMaxDecodePixels)
    {
        using var bitmap = Decode(bytes, path, width, height, maxDecodePixels);
        return bitmap.Bytes;
    }

    /// <summary>Checks that the bytes decode completely, at low cost; returns the original size (after orientation).</summary>
    public static (int Width, int Height, SKEncodedImageFormat Format) Verify(byte[] bytes, string path)
    {
        using var codec = OpenCodec(bytes, path);
        var (w, h) = OrientedSize(codec);
        using var small = Decode(bytes, path, 16, 16, DefaultMaxDecodePixels);
        return (w, h, codec.EncodedFormat);
    }

    internal static SKBitmap Decode(byte[] bytes, string path, int width, int height, long maxDecodePixels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        using var codec = OpenCodec(bytes, path);
        var info = codec.Info;
        if ((long)info.Width * info.Height > MaxImagePixels)
        {
            throw new InvalidImageException(path, SkipReason.TooLarge, $"{info.Width} x {info.Height} pixels is over the limit of {MaxImagePixels:N0}");
        }

        using var source = DecodeSource(codec, path, width, height, maxDecodePixels);
        return Render(source, codec.EncodedOrigin, width, height);
    }

    private static SKCodec OpenCodec(byte[] bytes, string path)
    {
        if (bytes.Length == 0)
        {
            throw new InvalidImageException(path, SkipReason.Empty, "the file is empty (0 bytes)");
        }

        // The codec owns the stream and frees it.
        var codec = SKCodec.Create(new SKMemoryStream(bytes), out var result);
        if (codec is null)
        {
            throw Sniff(bytes, path, result);
        }

        if (Array.IndexOf(SupportedFormats, codec.EncodedFormat) < 0)
        {
            var format = codec.EncodedFormat;
            codec.Dispose();
            throw new InvalidImageException(path, SkipReason.UnsupportedFormat, $"{format} images are not supported (supported: JPEG, PNG, GIF, BMP, WebP, ICO)");
        }

        return codec;
    }

    private static InvalidImageException Sniff(byte[] bytes, string path, SKCodecResult result)
    {
        var head = System.Text.Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 512)).TrimStart('\uFEFF', ' ', '\t', '\r', '\n');
        if (head.StartsWith("<svg", StringComparison.OrdinalIgnoreCase) ||
            (head.StartsWith("<?xml", StringComparison.OrdinalIgnoreCase) && head.Contains("<svg", StringComparison.OrdinalIgnoreCase)))
        {
            return new InvalidImageException(path, SkipReason.UnsupportedFormat, "SVG (vector) images are not supported; rasterise them to PNG first");
        }

        if (IsKnownImageSignature(bytes))
        {
            return new InvalidImageException(path, SkipReason.Truncated, $"the image header is damaged or the file ends early (decoder: {result})");
        }

        var printable = bytes.Take(512).Count(b => b is 9 or 10 or 13 || (b >= 32 && b < 127));
        var kind = printable >= Math.Min(bytes.Length, 512) * 0.95 ? "text" : "unrecognised binary data";
        return new InvalidImageException(path, SkipReason.NotAnImage, $"the content is {kind}, not an image");
    }

    private static bool IsKnownImageSignature(byte[] b) =>
        (b.Length >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) ||
        (b.Length >= 4 && b[0] == 0x89 && b[1] == (byte)'P' && b[2] == (byte)'N' && b[3] == (byte)'G') ||
        (b.Length >= 3 && b[0] == (byte)'G' && b[1] == (byte)'I' && b[2] == (byte)'F') ||
        (b.Length >= 2 && b[0] == (byte)'B' && b[1] == (byte)'M') ||
        (b.Length >= 12 && b[0] == (byte)'R' && b[1] == (byte)'I' && b[2] == (byte)'F' && b[3] == (byte)'F' && b[8] == (byte)'W' && b[9] == (byte)'E' && b[10] == (byte)'B' && b[11] == (byte)'P');

    private static (int Width, int Height) OrientedSize(SKCodec codec)
    {
        var info = codec.Info;
        return SwapsAxes(codec.EncodedOrigin) ? (info.Height, info.Width) : (info.Width, info.Height);
    }

    private static bool SwapsAxes(SKEncodedOrigin origin) =>
        origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;

    /// <summary>Decodes at the smallest size the codec offers that is still at least the target, or reduces row by row.</summary>
    private static SKBitmap DecodeSource(SKCodec codec, string path, int width, int height, long maxDecodePixels)
    {
        var info = codec.Info;
        var (tw, th) = SwapsAxes(codec.EncodedOrigin) ? (height, width) : (width, height);
        var size = new SKSizeI(info.Width, info.Height);
        foreach (var scale in new[] { 0.125f, 0.25f, 0.375f, 0.5f, 0.625f, 0.75f, 0.875f })
        {
            var candidate = codec.GetScaledDimensions(scale);
            if (candidate.Width >= tw && candidate.Height >= th && candidate.Width < size.Width)
            {
                size = candidate;
                break;
            }
        }

        if ((long)size.Width * size.Height <= maxDecodePixels)
        {
            var decodeInfo = new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
            var bitmap = new SKBitmap(decodeInfo);
            var result = codec.GetPixels(decodeInfo, bitmap.GetPixels());
            if (result is SKCodecResult.Success)
            {
                return bitmap;
            }

            bitmap.Dispose();
            throw result == SKCodecResult.IncompleteInput
                ? new InvalidImageException(path, SkipReason.Truncated, "the image data ends early (truncated file)")
                : new InvalidImageException(path, SkipReason.Unreadable, $"the decoder failed: {result}");
        }

        return DecodeReducedByRows(codec, path, tw, th, maxDecodePixels);
    }

    /// <summary>
    /// Bounded-memory decode of a huge image: scanlines are read a few at a time and box-averaged by an integer factor,
    /// so memory is the reduced image plus one block of rows, whatever the source size.
    /// </summary>
    private static SKBitmap DecodeReducedByRows(SKCodec codec, string path, int tw, int th, long maxDecodePixels)
    {
        var info = codec.Info;
        var factor = (int)Math.Ceiling(Math.Sqrt((double)info.Width * info.Height / maxDecodePixels));
        factor = Math.Max(1, Math.Min(factor, Math.Min(info.Width / tw, info.Height / th)));
        factor = Math.Max(factor, 1);
        var rowInfo = new SKImageInfo(info.Width, 1, SKColorType.Rgba8888, SKAlphaType.Premul);
        var start = codec.StartScanlineDecode(rowInfo);
        if (start != SKCodecResult.Success)
        {
            throw new InvalidImageException(path, SkipReason.TooLarge,
                $"{info.Width} x {info.Height} {codec.EncodedFormat} is too large to decode within the memory limit ({maxDecodePixels:N0} pixels) and the format cannot be decoded row by row");
        }

        if (codec.ScanlineOrder != SKCodecScanlineOrder.TopDown)
        {
            throw new InvalidImageException(path, SkipReason.TooLarge, "bottom-up images this large are not supported");
        }

        int ow = info.Width / factor, oh = info.Height / factor;
        var sums = new uint[ow * 4];
        var rowBytes = info.Width * 4;
        var rows = new byte[rowBytes * factor];
        var reduced = new byte[ow * oh * 4];
        var handle = GCHandle.Alloc(rows, GCHandleType.Pinned);
        try
        {
            var area = (uint)(factor * factor);
            for (var oy = 0; oy < oh; oy++)
            {
                var got = codec.GetScanlines(handle.AddrOfPinnedObject(), factor, rowBytes);
                if (got < factor)
                {
                    throw new InvalidImageException(path, SkipReason.Truncated, "the image data ends early (truncated file)");
                }

                Array.Clear(sums);
                for (var r = 0; r < factor; r++)
                {
                    var row = rows.AsSpan(r * rowBytes, ow * factor * 4);
                    for (var ox = 0; ox < ow; ox++)
                    {
                        var block = row.Slice(ox * factor * 4, factor * 4);
                        for (var i = 0; i < block.Length; i += 4)
                        {
                            sums[ox * 4] += block[i];
                            sums[(ox * 4) + 1] += block[i + 1];
                            sums[(ox * 4) + 2] += block[i + 2];
                            sums[(ox * 4) + 3] += block[i + 3];
                        }
                    }
                }

                var dst = reduced.AsSpan(oy * ow * 4, ow * 4);
                for (var i = 0; i < dst.Length; i++)
                {
                    dst[i] = (byte)((sums[i] + (area / 2)) / area);
                }
            }
        }
        finally
        {
            handle.Free();
        }

        var output = new SKBitmap(new SKImageInfo(ow, oh, SKColorType.Rgba8888, SKAlphaType.Premul));
        Marshal.Copy(reduced, 0, output.GetPixels(), reduced.Length);
        return output;
    }

    /// <summary>Applies the EXIF orientation, flattens onto white and resizes to the target with high-quality filtering.</summary>
    private static SKBitmap Render(SKBitmap source, SKEncodedOrigin origin, int width, int height)
    {
        float w = source.Width, h = source.Height;
        var orient = origin switch
        {
            SKEncodedOrigin.TopRight => new SKMatrix(-1, 0, w, 0, 1, 0, 0, 0, 1),
            SKEncodedOrigin.BottomRight => new SKMatrix(-1, 0, w, 0, -1, h, 0, 0, 1),
            SKEncodedOrigin.BottomLeft => new SKMatrix(1, 0, 0, 0, -1, h, 0, 0, 1),
            SKEncodedOrigin.LeftTop => new SKMatrix(0, 1, 0, 1, 0, 0, 0, 0, 1),
            SKEncodedOrigin.RightTop => new SKMatrix(0, -1, h, 1, 0, 0, 0, 0, 1),
            SKEncodedOrigin.RightBottom => new SKMatrix(0, -1, h, -1, 0, w, 0, 0, 1),
            SKEncodedOrigin.LeftBottom => new SKMatrix(0, 1, 0, -1, 0, w, 0, 0, 1),
            _ => SKMatrix.Identity,
        };
        var (ow, oh) = SwapsAxes(origin) ? (h, w) : (w, h);
        var matrix = orient.PostConcat(SKMatrix.CreateScale(width / ow, height / oh));

        var target = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(target);
        canvas.Clear(SKColors.White);
        canvas.SetMatrix(matrix);
        using var paint = new SKPaint { FilterQuality = SKFilterQuality.High, IsAntialias = true };
        canvas.DrawBitmap(source, 0, 0, paint);
        canvas.Flush();
        return target;
    }
}
