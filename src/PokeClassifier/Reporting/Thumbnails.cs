using PokeClassifier.Data;
using SkiaSharp;

namespace PokeClassifier.Reporting;

/// <summary>Small JPEG thumbnails as data URIs, decoded with the library's decoder (EXIF orientation, alpha onto white, bounded memory).</summary>
internal sealed class Thumbnails(int size, int quality)
{
    private readonly Dictionary<string, string?> _byPath = new(StringComparer.Ordinal);

    /// <summary>The thumbnail of <paramref name="path"/> as a <c>data:image/jpeg;base64,...</c> URI, or <see langword="null"/> when the file cannot be read now.</summary>
    public string? DataUri(string path)
    {
        if (_byPath.TryGetValue(path, out var cached))
        {
            return cached;
        }

        string? uri = null;
        try
        {
            var bytes = File.ReadAllBytes(path);
            var (w, h, _) = ImageDecoder.Verify(bytes, path);
            var scale = Math.Min(1.0, (double)size / Math.Max(w, h));
            var tw = Math.Max(1, (int)Math.Round(w * scale));
            var th = Math.Max(1, (int)Math.Round(h * scale));
            using var bitmap = ImageDecoder.Decode(bytes, path, tw, th, ImageDecoder.DefaultMaxDecodePixels);
            using var image = SKImage.FromBitmap(bitmap);
            using var data = image.Encode(SKEncodedImageFormat.Jpeg, quality);
            uri = "data:image/jpeg;base64," + Convert.ToBase64String(data.AsSpan());
        }
        catch (Exception e) when (e is InvalidImageException or IOException or UnauthorizedAccessException)
        {
            // The gallery shows the path and says the image is unavailable.
        }

        _byPath[path] = uri;
        return uri;
    }
}
