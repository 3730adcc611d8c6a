using System.Buffers.Binary;
using System.IO.Compression;
using SkiaSharp;

namespace PokeClassifier.Tests;

/// <summary>Draws and writes real image files for the tests.</summary>
internal static class TestImages
{
    public static string NewTempDir(string name = "pc")
    {
        var dir = Path.Combine(Path.GetTempPath(), $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>A shape of a class on a random background, with random size, position and colour jitter.</summary>
    public static SKBitmap Shape(string shape, Random rng, int size = 160)
    {
        var bitmap = new SKBitmap(size, size, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(new SKColor((byte)rng.Next(180, 256), (byte)rng.Next(180, 256), (byte)rng.Next(180, 256)));
        using var paint = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Fill };
        var colour = shape switch
        {
            "circle" => new SKColor(220, 30, 30),
            "square" => new SKColor(30, 160, 30),
            "triangle" => new SKColor(30, 30, 220),
            _ => new SKColor(20, 20, 20),
        };
        paint.Color = new SKColor((byte)Math.Clamp(colour.Red + rng.Next(-20, 21), 0, 255), (byte)Math.Clamp(colour.Green + rng.Next(-20, 21), 0, 255), (byte)Math.Clamp(colour.Blue + rng.Next(-20, 21), 0, 255));
        var r = size * (0.2f + (0.15f * (float)rng.NextDouble()));
        var cx = (size / 2f) + rng.Next(-size / 8, size / 8);
        var cy = (size / 2f) + rng.Next(-size / 8, size / 8);
        switch (shape)
        {
            case "circle":
                canvas.DrawCircle(cx, cy, r, paint);
                break;
            case "square":
                canvas.DrawRect(cx - r, cy - r, 2 * r, 2 * r, paint);
                break;
            case "triangle":
                using (var path = new SKPath())
                {
                    path.MoveTo(cx, cy - r);
                    path.LineTo(cx + r, cy + r);
                    path.LineTo(cx - r, cy + r);
                    path.Close();
                    canvas.DrawPath(path, paint);
                }

                break;
            default:
                paint.StrokeWidth = r / 3;
                paint.Style = SKPaintStyle.Stroke;
                canvas.DrawLine(cx - r, cy - r, cx + r, cy + r, paint);
                canvas.DrawLine(cx - r, cy + r, cx + r, cy - r, paint);
                break;
        }

        return bitmap;
    }

    public static byte[] Encode(SKBitmap bitmap, SKEncodedImageFormat format, int quality = 92)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, quality);
        return data.ToArray();
    }

    public static byte[] SolidPng(int width, int height, SKColor colour)
    {
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        bitmap.Erase(colour);
        return Encode(bitmap, SKEncodedImageFormat.Png);
    }

    /// <summary>Writes a shapes dataset (one folder per shape) and returns its root.</summary>
    public static string ShapesDataset(int perClass, int seed = 7, params string[] shapes)
    {
        if (shapes.Length == 0)
        {
            shapes = ["circle", "square", "triangle", "cross"];
        }

        var root = NewTempDir("shapes");
        var rng = new Random(seed);
        foreach (var shape in shapes)
        {
            Directory.CreateDirectory(Path.Combine(root, shape));
            for (var i = 0; i < perClass; i++)
            {
                using var bmp = Shape(shape, rng);
                var format = i % 3 == 0 ? SKEncodedImageFormat.Jpeg : SKEncodedImageFormat.Png;
                File.WriteAllBytes(Path.Combine(root, shape, $"{shape}_{i:D3}.{(format == SKEncodedImageFormat.Jpeg ? "jpg" : "png")}"), Encode(bmp, format));
            }
        }

        return root;
    }

    /// <summary>A 1x1 GIF (content "GIF89a"), whatever the file is named.</summary>
    public static byte[] TinyGif() =>
    [
        0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x2C, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3B,
    ];

    /// <summary>A 24-bit BMP of the bitmap (Skia cannot encode BMP).</summary>
    public static byte[] Bmp(SKBitmap bitmap)
    {
        int w = bitmap.Width, h = bitmap.Height, stride = ((w * 3) + 3) & ~3;
        var bytes = new byte[54 + (stride * h)];
        bytes[0] = (byte)'B';
        bytes[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(2), bytes.Length);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(18), w);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(22), h);
        BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(28), 24);
        for (var y = 0; y < h; y++)
        {
            for (var x = 0; x < w; x++)
            {
                var c = bitmap.GetPixel(x, h - 1 - y);
                var o = 54 + (y * stride) + (x * 3);
                bytes[o] = c.Blue;
                bytes[o + 1] = c.Green;
                bytes[o + 2] = c.Red;
            }
        }

        return bytes;
    }

    /// <summary>Inserts an EXIF APP1 segment with the given orientation (1-8) after the JPEG's SOI marker.</summary>
    public static byte[] WithExifOrientation(byte[] jpeg, ushort orientation)
    {
        var tiff = new byte[8 + 2 + 12 + 4];
        tiff[0] = (byte)'I';
        tiff[1] = (byte)'I';
        BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(2), 42);
        BinaryPrimitives.WriteUInt32LittleEndian(tiff.AsSpan(4), 8);
        BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(8), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(10), 0x0112);
        BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(12), 3);
        BinaryPrimitives.WriteUInt32LittleEndian(tiff.AsSpan(14), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(18), orientation);
        var payload = "Exif\0\0"u8.ToArray().Concat(tiff).ToArray();
        var segment = new byte[4 + payload.Length];
        segment[0] = 0xFF;
        segment[1] = 0xE1;
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(2), (ushort)(payload.Length + 2));
        payload.CopyTo(segment, 4);
        return jpeg.Take(2).Concat(segment).Concat(jpeg.Skip(2)).ToArray();
    }

    /// <summary>Streams a huge RGB PNG to disk row by row (never holding the image in memory): left half red, right half blue.</summary>
    public static void WriteHugePng(string path, int width, int height)
    {
        using var file = File.Create(path);
        file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;
        ihdr[9] = 2;
        WriteChunk(file, "IHDR", ihdr);
        using var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            var row = new byte[1 + (width * 3)];
            for (var x = 0; x < width; x++)
            {
                row[1 + (x * 3)] = x < width / 2 ? (byte)255 : (byte)0;
                row[1 + (x * 3) + 2] = x < width / 2 ? (byte)0 : (byte)255;
            }

            for (var y = 0; y < height; y++)
            {
                z.Write(row);
            }
        }

        WriteChunk(file, "IDAT", compressed.ToArray());
        WriteChunk(file, "IEND", []);
    }

    private static void WriteChunk(Stream s, string type, byte[] data)
    {
        var len = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var typeBytes = System.Text.Encoding.ASCII.GetBytes(type);
        s.Write(typeBytes);
        s.Write(data);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typeBytes.Concat(data)));
        s.Write(crc);
    }

    private static uint Crc32(IEnumerable<byte> bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }

        return ~crc;
    }
}
