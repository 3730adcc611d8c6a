using PokeClassifier.Data;
using SkiaSharp;

namespace PokeClassifier.Tests.Data;

public sealed class ResamplerTests
{
    /// <summary>Textbook Mitchell-Netravali with B = C = 1/3, written out independently of the library's coefficients.</summary>
    private static double Mitchell(double x)
    {
        x = Math.Abs(x);
        return x < 1 ? ((7 * x * x * x) - (12 * x * x) + (16.0 / 3)) / 6
            : x < 2 ? ((-7.0 / 3 * x * x * x) + (12 * x * x) - (20 * x) + (32.0 / 3)) / 6
            : 0;
    }

    /// <summary>Weights [target, source] of one axis: the cubic stretched by the reduction factor, pixel centres aligned, edges clamped, rows normalised.</summary>
    private static double[,] Weights(int source, int target)
    {
        var m = new double[target, source];
        if (source == target)
        {
            for (var i = 0; i < source; i++)
            {
                m[i, i] = 1;
            }

            return m;
        }

        var scale = (double)source / target;
        var stretch = Math.Max(1, scale);
        for (var o = 0; o < target; o++)
        {
            var center = (o + 0.5) * scale;
            double sum = 0;
            for (var i = (int)Math.Floor(center - (2 * stretch)) - 2; i <= (int)Math.Ceiling(center + (2 * stretch)) + 2; i++)
            {
                var w = Mitchell((i + 0.5 - center) / stretch);
                m[o, Math.Clamp(i, 0, source - 1)] += w;
                sum += w;
            }

            for (var i = 0; i < source; i++)
            {
                m[o, i] /= sum;
            }
        }

        return m;
    }

    /// <summary>The same resize in double precision: horizontal pass, clamp to 0..255, vertical pass, round.</summary>
    private static byte[] Reference(byte[] src, int sw, int sh, int tw, int th)
    {
        var wx = Weights(sw, tw);
        var wy = Weights(sh, th);
        var mid = new double[sh, tw, 4];
        for (var y = 0; y < sh; y++)
        {
            for (var x = 0; x < tw; x++)
            {
                for (var c = 0; c < 4; c++)
                {
                    double acc = 0;
                    for (var i = 0; i < sw; i++)
                    {
                        acc += wx[x, i] * src[(((y * sw) + i) * 4) + c];
                    }

                    mid[y, x, c] = Math.Clamp(acc, 0, 255);
                }
            }
        }

        var output = new byte[tw * th * 4];
        for (var y = 0; y < th; y++)
        {
            for (var x = 0; x < tw; x++)
            {
                for (var c = 0; c < 4; c++)
                {
                    double acc = 0;
                    for (var j = 0; j < sh; j++)
                    {
                        acc += wy[y, j] * mid[j, x, c];
                    }

                    output[(((y * tw) + x) * 4) + c] = (byte)Math.Clamp(Math.Round(acc), 0, 255);
                }
            }
        }

        return output;
    }

    private static byte[] Opaque(int w, int h, int seed)
    {
        var random = new Random(seed);
        var px = new byte[w * h * 4];
        for (var y = 0; y < h; y++)
        {
            for (var x = 0; x < w; x++)
            {
                var i = ((y * w) + x) * 4;
                px[i] = (byte)random.Next(256); // noise: the cubic's overshoot and the clamps are exercised
                px[i + 1] = (byte)((x * 255) / Math.Max(1, w - 1));
                px[i + 2] = (byte)(((x + y) * 7) & 255);
                px[i + 3] = 255;
            }
        }

        return px;
    }

    private static byte[] Resize(byte[] src, int sw, int sh, int tw, int th)
    {
        var output = new byte[tw * th * 4];
        Resampler.Resize(src, sw, sh, sw * 4, output, tw, th);
        return output;
    }

    [Theory]
    [InlineData(128, 128, 224, 224)] // the sprite case
    [InlineData(37, 23, 64, 50)] // enlarged, odd sizes
    [InlineData(300, 200, 96, 80)] // reduced by about 3
    [InlineData(61, 45, 7, 45)] // reduced across, copied down
    [InlineData(1, 1, 9, 4)] // one pixel
    public void Given_an_image_When_resized_Then_it_matches_the_double_precision_filter_within_one_level(int sw, int sh, int tw, int th)
    {
        var src = Opaque(sw, sh, sw + sh);

        var actual = Resize(src, sw, sh, tw, th);

        var expected = Reference(src, sw, sh, tw, th);
        var worst = actual.Zip(expected, (a, e) => Math.Abs(a - e)).Max();
        Assert.True(worst <= 1, $"largest difference {worst} levels");
        Assert.All(Enumerable.Range(0, tw * th), p => Assert.Equal(255, actual[(p * 4) + 3]));
    }

    [Theory]
    [InlineData(128, 128, 224, 224)]
    [InlineData(500, 333, 224, 224)]
    [InlineData(3, 5, 2, 17)]
    public void Given_a_flat_image_When_resized_Then_every_pixel_keeps_its_exact_colour(int sw, int sh, int tw, int th)
    {
        var src = new byte[sw * sh * 4];
        for (var i = 0; i < src.Length; i += 4)
        {
            (src[i], src[i + 1], src[i + 2], src[i + 3]) = ((byte)13, (byte)200, (byte)77, (byte)255);
        }

        var actual = Resize(src, sw, sh, tw, th);

        for (var i = 0; i < actual.Length; i += 4)
        {
            Assert.Equal((13, 200, 77, 255), (actual[i], actual[i + 1], actual[i + 2], actual[i + 3]));
        }
    }

    [Fact]
    public void Given_the_same_size_When_resized_Then_the_pixels_are_copied_unchanged()
    {
        var src = Opaque(40, 30, 1);

        Assert.Equal(src, Resize(src, 40, 30, 40, 30));
    }

    [Fact]
    public void Given_rows_with_padding_When_resized_Then_the_padding_is_ignored()
    {
        var packed = Opaque(20, 10, 3);
        var padded = new byte[(20 * 4 + 12) * 10];
        for (var y = 0; y < 10; y++)
        {
            packed.AsSpan(y * 80, 80).CopyTo(padded.AsSpan(y * 92));
            padded.AsSpan((y * 92) + 80, 12).Fill(0xAB);
        }

        var output = new byte[33 * 17 * 4];
        Resampler.Resize(padded, 20, 10, 92, output, 33, 17);

        Assert.Equal(Resize(packed, 20, 10, 33, 17), output);
    }

    [Fact]
    public void Given_premultiplied_pixels_When_flattened_Then_each_is_composited_onto_white_exactly()
    {
        // Every (alpha, premultiplied colour <= alpha) pair, 8 pixels wide rows plus a tail the vector loop leaves to the scalar one.
        var pairs = (from a in Enumerable.Range(0, 256) from c in Enumerable.Range(0, a + 1) where (a + c) % 5 == 0 select (a, c)).ToArray();
        var px = new byte[pairs.Length * 4];
        for (var i = 0; i < pairs.Length; i++)
        {
            (px[i * 4], px[(i * 4) + 1], px[(i * 4) + 2], px[(i * 4) + 3]) = ((byte)pairs[i].c, (byte)(pairs[i].c / 2), 0, (byte)pairs[i].a);
        }

        ImageDecoder.FlattenOntoWhite(px, pairs.Length, 1, px.Length);

        for (var i = 0; i < pairs.Length; i++)
        {
            var (a, c) = pairs[i];
            Assert.Equal((c + 255 - a, (c / 2) + 255 - a, 255 - a, 255), (px[i * 4], px[(i * 4) + 1], px[(i * 4) + 2], px[(i * 4) + 3]));
        }
    }

    [Theory]
    [InlineData(SKEncodedOrigin.TopLeft)]
    [InlineData(SKEncodedOrigin.TopRight)]
    [InlineData(SKEncodedOrigin.BottomRight)]
    [InlineData(SKEncodedOrigin.BottomLeft)]
    [InlineData(SKEncodedOrigin.LeftTop)]
    [InlineData(SKEncodedOrigin.RightTop)]
    [InlineData(SKEncodedOrigin.RightBottom)]
    [InlineData(SKEncodedOrigin.LeftBottom)]
    public void Given_an_exif_origin_When_oriented_Then_each_pixel_lands_where_the_exif_transform_puts_it(SKEncodedOrigin origin)
    {
        const int w = 3, h = 2;
        var px = new byte[w * h * 4];
        for (var i = 0; i < w * h; i++)
        {
            px[i * 4] = (byte)(i + 1);
        }

        var swaps = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        var (ow, oh) = swaps ? (h, w) : (w, h);
        var output = new byte[w * h * 4];
        ImageDecoder.Orient(px, w, h, w * 4, origin, output);

        // The EXIF transforms as matrices from stored to displayed coordinates (Skia's SkEncodedOriginToMatrix).
        var m = origin switch
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
        for (var sy = 0; sy < h; sy++)
        {
            for (var sx = 0; sx < w; sx++)
            {
                var p = m.MapPoint(sx + 0.5f, sy + 0.5f);
                var (dx, dy) = ((int)Math.Floor(p.X), (int)Math.Floor(p.Y));
                Assert.Equal(px[((sy * w) + sx) * 4], output[((dy * ow) + dx) * 4]);
            }
        }

        Assert.Equal(w * h, Enumerable.Range(0, ow * oh).Select(i => output[i * 4]).Distinct().Count());
    }
}
