using System.Buffers;
using System.Numerics;
using System.Runtime.InteropServices;
using SkiaSharp;

namespace PokeClassifier.Data;

/// <summary>
/// Decodes image bytes by content (never by extension) into an opaque RGBA bitmap of a requested size:
/// EXIF orientation applied, alpha flattened onto white, huge images reduced while decoding so that memory stays bounded, and the
/// size changed by <see cref="Resampler"/> (integer arithmetic: the same bytes on every CPU).
/// </summary>
internal static class ImageDecoder
{
    /// <summary>Images with more pixels than this (after the codec's own scaling) are reduced row by row while decoding.</summary>
    internal const long DefaultMaxDecodePixels = 4096L * 4096L;

    /// <summary>Images larger than this are refused outright (a 60000 x 60000 "image" is a decompression bomb).</summary>
    internal const long MaxImagePixels = 50_000L * 50_000L;

    /// <summary>Formats that cannot be reduced row by row are decoded whole up to this size (256 MB of RGBA).</summary>
    internal const long MaxWholeDecodePixels = 8192L * 8192L;

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

        using var source = DecodeSource(codec, bytes, path, width, height, maxDecodePixels);
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

        if (UnsupportedSignature(bytes) is { } format)
        {
            return new InvalidImageException(path, SkipReason.UnsupportedFormat, $"{format} images are not supported (supported: JPEG, PNG, GIF, BMP, WebP, ICO); convert it to PNG or JPEG first");
        }

        if (IsKnownImageSignature(bytes))
        {
            return new InvalidImageException(path, SkipReason.Truncated, $"the image header is damaged or the file ends early (decoder: {result})");
        }

        var printable = bytes.Take(512).Count(b => b is 9 or 10 or 13 || (b >= 32 && b < 127));
        var kind = printable >= Math.Min(bytes.Length, 512) * 0.95 ? "text" : "unrecognised binary data";
        return new InvalidImageException(path, SkipReason.NotAnImage, $"the content is {kind}, not an image");
    }

    /// <summary>Image formats recognised by their signature that the decoder does not read.</summary>
    private static string? UnsupportedSignature(byte[] b)
    {
        if (b.Length >= 4 && ((b[0] == (byte)'I' && b[1] == (byte)'I' && b[2] == 42 && b[3] == 0) || (b[0] == (byte)'M' && b[1] == (byte)'M' && b[2] == 0 && b[3] == 42)))
        {
            return "TIFF";
        }

        if (b.Length >= 12 && b[4] == (byte)'f' && b[5] == (byte)'t' && b[6] == (byte)'y' && b[7] == (byte)'p')
        {
            var brand = System.Text.Encoding.ASCII.GetString(b, 8, 4);
            return brand switch
            {
                "heic" or "heix" or "hevc" or "hevx" or "heim" or "heis" or "mif1" or "msf1" => "HEIF/HEIC",
                "avif" or "avis" => "AVIF",
                "jp2 " or "jpx " => "JPEG 2000",
                _ => null,
            };
        }

        if (b.Length >= 12 && b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 12 && b[4] == (byte)'j' && b[5] == (byte)'P')
        {
            return "JPEG 2000";
        }

        if ((b.Length >= 2 && b[0] == 0xFF && b[1] == 0x0A) || (b.Length >= 8 && b[4] == (byte)'J' && b[5] == (byte)'X' && b[6] == (byte)'L' && b[7] == (byte)' '))
        {
            return "JPEG XL";
        }

        return b.Length >= 4 && b[0] == (byte)'8' && b[1] == (byte)'B' && b[2] == (byte)'P' && b[3] == (byte)'S' ? "Photoshop (PSD)" : null;
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
    private static SKBitmap DecodeSource(SKCodec codec, byte[] bytes, string path, int width, int height, long maxDecodePixels)
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

        return DecodeReducedByRows(codec, bytes, path, tw, th, maxDecodePixels);
    }

    /// <summary>
    /// Bounded-memory decode of a huge image: rows are read a block at a time and box-averaged by an integer factor, so memory is the
    /// reduced image plus one block of rows, whatever the source size. PNG goes through <see cref="PngRowReader"/> (Skia's PNG codec has
    /// no row-by-row mode); formats with Skia scanline support (BMP, WBMP) through the codec; anything else is decoded whole when that
    /// stays under <see cref="MaxWholeDecodePixels"/>.
    /// </summary>
    private static SKBitmap DecodeReducedByRows(SKCodec codec, byte[] bytes, string path, int tw, int th, long maxDecodePixels)
    {
        var info = codec.Info;
        var factor = (int)Math.Ceiling(Math.Sqrt((double)info.Width * info.Height / maxDecodePixels));
        factor = Math.Max(1, Math.Min(factor, Math.Min(info.Width / tw, info.Height / th)));
        int ow = info.Width / factor, oh = info.Height / factor;
        var reduced = new byte[ow * oh * 4];

        if (codec.EncodedFormat == SKEncodedImageFormat.Png && TryReducePng(bytes, path, factor, ow, oh, reduced))
        {
            return ToBitmap(reduced, ow, oh);
        }

        var rowInfo = new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        if (codec.StartScanlineDecode(rowInfo) != SKCodecResult.Success || codec.ScanlineOrder != SKCodecScanlineOrder.TopDown)
        {
            if ((long)info.Width * info.Height > MaxWholeDecodePixels)
            {
                throw new InvalidImageException(path, SkipReason.TooLarge,
                    $"{info.Width} x {info.Height} {codec.EncodedFormat} is too large to decode within the memory limit ({MaxWholeDecodePixels:N0} pixels) and cannot be decoded row by row");
            }

            var whole = new SKBitmap(rowInfo);
            var result = codec.GetPixels(rowInfo, whole.GetPixels());
            if (result != SKCodecResult.Success)
            {
                whole.Dispose();
                throw new InvalidImageException(path, result == SKCodecResult.IncompleteInput ? SkipReason.Truncated : SkipReason.Unreadable, $"the decoder failed: {result}");
            }

            return whole;
        }

        var rowBytes = info.Width * 4;
        var rows = new byte[rowBytes * factor];
        var sums = new uint[ow * 4];
        var handle = GCHandle.Alloc(rows, GCHandleType.Pinned);
        try
        {
            for (var oy = 0; oy < oh; oy++)
            {
                if (codec.GetScanlines(handle.AddrOfPinnedObject(), factor, rowBytes) < factor)
                {
                    throw new InvalidImageException(path, SkipReason.Truncated, "the image data ends early (truncated file)");
                }

                Array.Clear(sums);
                for (var r = 0; r < factor; r++)
                {
                    Accumulate(rows.AsSpan(r * rowBytes, rowBytes), 4, factor, ow, sums);
                }

                Store(sums, factor, reduced.AsSpan(oy * ow * 4, ow * 4), 4);
            }
        }
        finally
        {
            handle.Free();
        }

        return ToBitmap(reduced, ow, oh);
    }

    private static bool TryReducePng(byte[] bytes, string path, int factor, int ow, int oh, byte[] reduced)
    {
        PngRowReader reader;
        try
        {
            reader = new PngRowReader(bytes);
        }
        catch (NotSupportedException)
        {
            return false; // interlaced or exotic: the whole-image path decides
        }
        catch (InvalidDataException e)
        {
            throw new InvalidImageException(path, SkipReason.Truncated, $"the PNG structure is damaged: {e.Message}");
        }

        using (reader)
        {
            var row = new byte[reader.Width * 3];
            var sums = new uint[ow * 4];
            try
            {
                for (var oy = 0; oy < oh; oy++)
                {
                    Array.Clear(sums);
                    for (var r = 0; r < factor; r++)
                    {
                        reader.ReadRow(row);
                        Accumulate(row, 3, factor, ow, sums);
                    }

                    Store(sums, factor, reduced.AsSpan(oy * ow * 4, ow * 4), 3);
                }
            }
            catch (Exception e) when (e is EndOfStreamException or InvalidDataException)
            {
                throw new InvalidImageException(path, SkipReason.Truncated, "the image data ends early or is damaged (truncated file)");
            }
        }

        return true;
    }

    private static void Accumulate(ReadOnlySpan<byte> row, int channels, int factor, int ow, uint[] sums)
    {
        for (var ox = 0; ox < ow; ox++)
        {
            var block = row.Slice(ox * factor * channels, factor * channels);
            for (var i = 0; i < block.Length; i += channels)
            {
                for (var c = 0; c < channels; c++)
                {
                    sums[(ox * 4) + c] += block[i + c];
                }
            }
        }
    }

    private static void Store(uint[] sums, int factor, Span<byte> dst, int channels)
    {
        var area = (uint)(factor * factor);
        for (var x = 0; x < dst.Length / 4; x++)
        {
            for (var c = 0; c < 4; c++)
            {
                dst[(x * 4) + c] = c < channels ? (byte)((sums[(x * 4) + c] + (area / 2)) / area) : (byte)255;
            }
        }
    }

    private static SKBitmap ToBitmap(byte[] rgba, int width, int height)
    {
        var output = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul));
        Marshal.Copy(rgba, 0, output.GetPixels(), rgba.Length);
        return output;
    }

    /// <summary>Applies the EXIF orientation, flattens onto white and resizes to the target with <see cref="Resampler"/>.</summary>
    private static SKBitmap Render(SKBitmap source, SKEncodedOrigin origin, int width, int height)
    {
        var pixels = Writable(source.GetPixelSpan());
        var stride = source.RowBytes;
        FlattenOntoWhite(pixels, source.Width, source.Height, stride);
        byte[]? oriented = null;
        var (ow, oh) = (source.Width, source.Height);
        try
        {
            if (origin is not (SKEncodedOrigin.TopLeft or SKEncodedOrigin.Default))
            {
                (ow, oh) = SwapsAxes(origin) ? (source.Height, source.Width) : (source.Width, source.Height);
                oriented = ArrayPool<byte>.Shared.Rent(ow * oh * 4);
                Orient(pixels, source.Width, source.Height, stride, origin, oriented);
                stride = ow * 4;
            }

            var target = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
            if (target.RowBytes != width * 4)
            {
                target.Dispose();
                throw new InvalidOperationException($"Skia gave a {width} x {height} bitmap rows of {target.RowBytes} bytes; expected {width * 4}.");
            }

            Resampler.Resize(oriented is null ? pixels : oriented.AsSpan(0, ow * oh * 4), ow, oh, stride, Writable(target.GetPixelSpan()), width, height);
            return target;
        }
        finally
        {
            if (oriented is not null)
            {
                ArrayPool<byte>.Shared.Return(oriented);
            }
        }
    }

    /// <summary>The pixels of a bitmap this class owns, to write in place (Skia hands them out read-only).</summary>
    private static Span<byte> Writable(ReadOnlySpan<byte> pixels) => MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(pixels), pixels.Length);

    /// <summary>
    /// Premultiplied RGBA onto white, in place: each colour channel gains 255 - alpha (premultiplied colour never exceeds alpha, so
    /// nothing overflows), alpha becomes 255. Exact integer arithmetic.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal static void FlattenOntoWhite(Span<byte> pixels, int width, int height, int stride)
    {
        for (var y = 0; y < height; y++)
        {
            var row = pixels.Slice(y * stride, width * 4);
            if (BitConverter.IsLittleEndian)
            {
                var words = MemoryMarshal.Cast<byte, uint>(row);
                var x = 0;
                if (Vector.IsHardwareAccelerated)
                {
                    var opaque = new Vector<uint>(0xFF000000u);
                    var all = new Vector<uint>(255u);
                    var spread = new Vector<uint>(0x00010101u);
                    for (; x <= words.Length - Vector<uint>.Count; x += Vector<uint>.Count)
                    {
                        var p = new Vector<uint>(words[x..]);
                        var missing = all - Vector.ShiftRightLogical(p, 24);
                        ((p + (missing * spread)) | opaque).CopyTo(words[x..]);
                    }
                }

                for (; x < words.Length; x++)
                {
                    var p = words[x];
                    words[x] = (p + ((255u - (p >> 24)) * 0x00010101u)) | 0xFF000000u;
                }
            }
            else
            {
                for (var x = 0; x < row.Length; x += 4)
                {
                    var missing = 255 - row[x + 3];
                    row[x] = (byte)(row[x] + missing);
                    row[x + 1] = (byte)(row[x + 1] + missing);
                    row[x + 2] = (byte)(row[x + 2] + missing);
                    row[x + 3] = 255;
                }
            }
        }
    }

    /// <summary>Writes the image as displayed under its EXIF <paramref name="origin"/> into <paramref name="output"/> (packed rows).</summary>
    internal static void Orient(ReadOnlySpan<byte> pixels, int w, int h, int stride, SKEncodedOrigin origin, Span<byte> output)
    {
        var (ow, oh) = SwapsAxes(origin) ? (h, w) : (w, h);
        for (var y = 0; y < oh; y++)
        {
            for (var x = 0; x < ow; x++)
            {
                var (sx, sy) = origin switch
                {
                    SKEncodedOrigin.TopRight => (w - 1 - x, y),
                    SKEncodedOrigin.BottomRight => (w - 1 - x, h - 1 - y),
                    SKEncodedOrigin.BottomLeft => (x, h - 1 - y),
                    SKEncodedOrigin.LeftTop => (y, x),
                    SKEncodedOrigin.RightTop => (y, h - 1 - x),
                    SKEncodedOrigin.RightBottom => (w - 1 - y, h - 1 - x),
                    SKEncodedOrigin.LeftBottom => (w - 1 - y, x),
                    _ => (x, y),
                };
                pixels.Slice((sy * stride) + (sx * 4), 4).CopyTo(output.Slice(((y * ow) + x) * 4, 4));
            }
        }
    }
}
