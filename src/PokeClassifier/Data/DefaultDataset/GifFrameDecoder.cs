using System.Runtime.InteropServices;
using SkiaSharp;

namespace PokeClassifier.Data.DefaultDataset;

/// <summary>The full frames of an animation, flattened onto white: RGBA bytes, opaque, <see cref="Width"/> x <see cref="Height"/> each.</summary>
internal sealed record FlatFrames(int Width, int Height, IReadOnlyList<byte[]> Frames);

/// <summary>
/// Decodes every frame of an animated GIF to a full canvas (each frame composited onto the frame it depends on, with the
/// GIF disposal methods applied: ImageMagick's <c>-coalesce</c>), then flattens it onto white (<c>-alpha remove</c>).
/// </summary>
internal static class GifFrameDecoder
{
    /// <exception cref="InvalidImageException">The data is not a decodable image.</exception>
    public static FlatFrames Decode(byte[] data, string name)
    {
        using var skData = SKData.CreateCopy(data);
        using var codec = SKCodec.Create(skData)
            ?? throw new InvalidImageException(name, SkipReason.NotAnImage, "not an image that SkiaSharp can decode");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        var frameInfos = codec.FrameInfo;
        var count = Math.Max(1, codec.FrameCount);

        // Premultiplied, composited frames: later frames are drawn over a copy of the one they require.
        var composited = new byte[count][];
        var flat = new byte[count][];
        for (var i = 0; i < count; i++)
        {
            var required = i < frameInfos.Length ? frameInfos[i].RequiredFrame : -1;
            var pixels = required >= 0 && required < i ? (byte[])composited[required].Clone() : new byte[info.BytesSize];
            var options = new SKCodecOptions { FrameIndex = i, PriorFrame = required >= 0 && required < i ? required : -1 };
            var handle = GCHandle.Alloc(pixels, GCHandleType.Pinned);
            SKCodecResult result;
            try
            {
                result = codec.GetPixels(info, handle.AddrOfPinnedObject(), info.RowBytes, options);
            }
            finally
            {
                handle.Free();
            }

            // A frame cut short still has its decoded rows; the rest stays transparent, hence white.
            if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput or SKCodecResult.ErrorInInput))
            {
                throw new InvalidImageException(name, SkipReason.Unreadable, $"frame {i} of {count} could not be decoded ({result})");
            }

            composited[i] = pixels;
            flat[i] = FlattenOntoWhite(pixels);
        }

        return new FlatFrames(info.Width, info.Height, flat);
    }

    /// <summary>Composites premultiplied RGBA over white: c + (255 - a) per channel; the result is opaque.</summary>
    private static byte[] FlattenOntoWhite(byte[] premultiplied)
    {
        var result = new byte[premultiplied.Length];
        for (var p = 0; p < premultiplied.Length; p += 4)
        {
            var white = 255 - premultiplied[p + 3];
            result[p] = (byte)Math.Min(255, premultiplied[p] + white);
            result[p + 1] = (byte)Math.Min(255, premultiplied[p + 1] + white);
            result[p + 2] = (byte)Math.Min(255, premultiplied[p + 2] + white);
            result[p + 3] = 255;
        }

        return result;
    }
}
