using PokeClassifier.Data;
using SkiaSharp;

namespace PokeClassifier.Tests.Data;

public sealed class ImageDecoderTests
{
    private static SKColor At(byte[] rgba, int width, int x, int y) => new(rgba[((y * width) + x) * 4], rgba[(((y * width) + x) * 4) + 1], rgba[(((y * width) + x) * 4) + 2], rgba[(((y * width) + x) * 4) + 3]);

    [Fact]
    public void Given_a_png_with_transparency_When_decoded_Then_alpha_is_flattened_onto_white()
    {
        using var bmp = new SKBitmap(64, 64, SKColorType.Rgba8888, SKAlphaType.Premul);
        bmp.Erase(SKColors.Transparent);
        using (var canvas = new SKCanvas(bmp))
        using (var paint = new SKPaint { Color = SKColors.Black })
        {
            canvas.DrawRect(0, 0, 32, 64, paint);
        }

        var rgba = ImageDecoder.DecodeRgba(TestImages.Encode(bmp, SKEncodedImageFormat.Png), "alpha.png", 64, 64);

        Assert.Equal(new SKColor(255, 255, 255, 255), At(rgba, 64, 60, 30));
        Assert.Equal(new SKColor(0, 0, 0, 255), At(rgba, 64, 4, 30));
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(6, true)]
    [InlineData(8, true)]
    [InlineData(3, false)]
    public void Given_a_jpeg_with_exif_orientation_When_decoded_Then_it_is_displayed_upright(ushort orientation, bool rotated)
    {
        // 80 wide x 40 high: left half red, right half blue.
        using var bmp = new SKBitmap(80, 40, SKColorType.Rgba8888, SKAlphaType.Premul);
        using (var canvas = new SKCanvas(bmp))
        {
            canvas.Clear(SKColors.Blue);
            using var paint = new SKPaint { Color = SKColors.Red };
            canvas.DrawRect(0, 0, 40, 40, paint);
        }

        var jpeg = TestImages.WithExifOrientation(TestImages.Encode(bmp, SKEncodedImageFormat.Jpeg, 95), orientation);
        var (w, h, _) = ImageDecoder.Verify(jpeg, "exif.jpg");
        var rgba = ImageDecoder.DecodeRgba(jpeg, "exif.jpg", 40, 40);

        Assert.Equal(rotated ? (40, 80) : (80, 40), (w, h));
        var topLeft = At(rgba, 40, 5, 5);
        var bottomRight = At(rgba, 40, 35, 35);
        if (orientation == 6)
        {
            // Rotated 90 degrees clockwise: the red left half becomes the top half.
            Assert.True(topLeft.Red > 200 && topLeft.Blue < 60, $"top-left {topLeft}");
            Assert.True(bottomRight.Blue > 200 && bottomRight.Red < 60, $"bottom-right {bottomRight}");
        }
        else if (orientation == 8)
        {
            // Rotated 90 degrees counter-clockwise: the red left half becomes the bottom half.
            Assert.True(topLeft.Blue > 200 && topLeft.Red < 60, $"top-left {topLeft}");
            Assert.True(bottomRight.Red > 200 && bottomRight.Blue < 60, $"bottom-right {bottomRight}");
        }
        else if (orientation == 3)
        {
            // Rotated 180 degrees: red moves to the right.
            Assert.True(topLeft.Blue > 200, $"top-left {topLeft}");
            Assert.True(bottomRight.Red > 200, $"bottom-right {bottomRight}");
        }
        else
        {
            Assert.True(topLeft.Red > 200, $"top-left {topLeft}");
            Assert.True(bottomRight.Blue > 200, $"bottom-right {bottomRight}");
        }
    }

    /// <summary>
    /// Pins the decoder's exact output bytes for 128 x 128 PNGs enlarged to 224 x 224 (the sprite case: one with transparency that is
    /// flattened onto white, one opaque RGB like the pokeapi sprites). The feature cache's identity assumes these pixels never change,
    /// so any change to decoding, flattening or resizing that alters a byte must fail here (and then bump the identity's version in
    /// <c>ImageFeaturizer.ComputeIdentity</c>). The resize is integer arithmetic, so the bytes are the same on every CPU
    /// (checked with AVX-512, with <c>DOTNET_EnableAVX512F=0</c>, <c>DOTNET_EnableAVX2=0</c> and <c>DOTNET_EnableHWIntrinsic=0</c>): no skip.
    /// </summary>
    [Theory]
    [InlineData(true, "62ba3be516f91437db96b317e4a2373f5000245da7e238257b4d2b6610d984cc")]
    [InlineData(false, "7d5a456bd40b8c79c23d362f4415ba9b3eb25520767fc2cfa2fd75f00bdf2ec6")]
    public void Given_a_128px_png_When_enlarged_to_224_Then_the_output_bytes_are_pinned(bool transparent, string sha256)
    {
        // Pixels from a formula (no drawing, so nothing depends on Skia's rasteriser): colour gradients, and for the transparent one a
        // fully transparent border, a ring of partial alpha and an opaque centre.
        const int size = 128;
        using var bmp = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, transparent ? SKAlphaType.Unpremul : SKAlphaType.Opaque));
        var px = bmp.GetPixelSpan().ToArray();
        for (var y = 0; y < size; y++)
        {
            for (var x = 0; x < size; x++)
            {
                var i = ((y * size) + x) * 4;
                px[i] = (byte)(x * 2);
                px[i + 1] = (byte)(y * 2);
                px[i + 2] = (byte)(((x * y) & 255) ^ 0x5A);
                var d = Math.Sqrt(((x - 63.5) * (x - 63.5)) + ((y - 63.5) * (y - 63.5)));
                px[i + 3] = !transparent ? (byte)255 : d > 56 ? (byte)0 : d > 40 ? (byte)((56 - d) * 255 / 16) : (byte)255;
            }
        }

        System.Runtime.InteropServices.Marshal.Copy(px, 0, bmp.GetPixels(), px.Length);
        var rgba = ImageDecoder.DecodeRgba(TestImages.Encode(bmp, SKEncodedImageFormat.Png), "sprite.png", 224, 224);

        Assert.Equal(224 * 224 * 4, rgba.Length);
        Assert.Equal(sha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(rgba)));
    }

    [Fact]
    public void Given_a_grayscale_png_When_decoded_Then_the_three_channels_are_equal()
    {
        using var gray = new SKBitmap(new SKImageInfo(32, 32, SKColorType.Gray8, SKAlphaType.Opaque));
        gray.Erase(new SKColor(90, 90, 90));
        var rgba = ImageDecoder.DecodeRgba(TestImages.Encode(gray, SKEncodedImageFormat.Png), "gray.png", 16, 16);
        var c = At(rgba, 16, 8, 8);
        Assert.Equal(c.Red, c.Green);
        Assert.Equal(c.Green, c.Blue);
        Assert.InRange(c.Red, 85, 95);
    }

    [Fact]
    public void Given_a_1x1_image_When_decoded_Then_it_is_upscaled_to_the_target()
    {
        var rgba = ImageDecoder.DecodeRgba(TestImages.SolidPng(1, 1, new SKColor(10, 200, 30)), "dot.png", 224, 224);
        Assert.Equal(224 * 224 * 4, rgba.Length);
        Assert.Equal(new SKColor(10, 200, 30, 255), At(rgba, 224, 100, 100));
    }

    [Fact]
    public void Given_a_10000x10000_png_When_decoded_Then_memory_stays_bounded_and_the_content_survives()
    {
        var dir = TestImages.NewTempDir();
        var path = Path.Combine(dir, "huge.png");
        TestImages.WriteHugePng(path, 10_000, 10_000);
        var bytes = File.ReadAllBytes(path);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var rgba = ImageDecoder.DecodeRgba(bytes, path, 224, 224);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // A plain decode would need 10000 * 10000 * 4 = 400 MB; the row-by-row reduction keeps one reduced copy (~44 MB).
        Assert.True(allocated < 120L * 1024 * 1024, $"allocated {allocated / 1048576} MB");
        Assert.True(At(rgba, 224, 20, 100).Red > 240);
        Assert.True(At(rgba, 224, 200, 100).Blue > 240);
        Directory.Delete(dir, true);
    }

    [Theory]
    [InlineData("empty", SkipReason.Empty)]
    [InlineData("text", SkipReason.NotAnImage)]
    [InlineData("svg", SkipReason.UnsupportedFormat)]
    [InlineData("truncated-png", SkipReason.Truncated)]
    [InlineData("truncated-jpeg", SkipReason.Truncated)]
    [InlineData("random", SkipReason.NotAnImage)]
    public void Given_bad_bytes_When_decoded_Then_an_invalid_image_exception_names_the_reason(string kind, SkipReason reason)
    {
        var bytes = BadBytes(kind);
        var e = Assert.Throws<InvalidImageException>(() => ImageDecoder.DecodeRgba(bytes, $"bad-{kind}", 32, 32));
        Assert.Equal(reason, e.Reason);
        Assert.Contains($"bad-{kind}", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("gif")]
    [InlineData("bmp")]
    [InlineData("webp")]
    [InlineData("jpeg")]
    public void Given_an_image_with_a_misleading_extension_When_decoded_Then_the_content_decides(string format)
    {
        using var bmp = TestImages.Shape("circle", new Random(1), 48);
        var bytes = format switch
        {
            "gif" => TestImages.TinyGif(),
            "bmp" => TestImages.Bmp(bmp),
            "webp" => TestImages.Encode(bmp, SKEncodedImageFormat.Webp),
            _ => TestImages.Encode(bmp, SKEncodedImageFormat.Jpeg),
        };
        var (_, _, detected) = ImageDecoder.Verify(bytes, "picture.png");
        var expected = format switch
        {
            "gif" => SKEncodedImageFormat.Gif,
            "bmp" => SKEncodedImageFormat.Bmp,
            "webp" => SKEncodedImageFormat.Webp,
            _ => SKEncodedImageFormat.Jpeg,
        };
        Assert.Equal(expected, detected);
    }

    internal static byte[] BadBytes(string kind)
    {
        using var bmp = TestImages.Shape("square", new Random(3), 96);
        return kind switch
        {
            "empty" => [],
            "text" => "this is not a picture, just some text in a file named .jpg\n"u8.ToArray(),
            "svg" => "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><rect width=\"10\" height=\"10\"/></svg>"u8.ToArray(),
            "truncated-png" => Half(TestImages.Encode(bmp, SKEncodedImageFormat.Png)),
            "truncated-jpeg" => Half(TestImages.Encode(bmp, SKEncodedImageFormat.Jpeg)),
            "random" => Enumerable.Range(0, 300).Select(i => (byte)((i * 7919) % 251)).ToArray(),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    private static byte[] Half(byte[] bytes) => bytes[..(bytes.Length / 2)];
}
