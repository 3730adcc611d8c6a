namespace PokeClassifier.Data.DefaultDataset;

/// <summary>The frames kept from one animation: their GIF frame indices and PNG bytes, and how many frames the GIF has.</summary>
internal sealed record ProcessedAnimation(int FramesInSource, IReadOnlyList<int> FrameIndices, IReadOnlyList<byte[]> Pngs);

/// <summary>One animated GIF in, up to N distinct square PNG frames out.</summary>
internal static class SpriteAnimationProcessor
{
    /// <exception cref="InvalidImageException">The GIF cannot be decoded.</exception>
    public static ProcessedAnimation Process(byte[] gif, string name, int imageSize, int marginPercent, int maxFrames, double duplicateThreshold, CancellationToken cancellationToken)
    {
        var frames = GifFrameDecoder.Decode(gif, name);
        cancellationToken.ThrowIfCancellationRequested();
        var square = SpriteFrameCropper.SquareAround(SpriteFrameCropper.UnionBoundingBox(frames), marginPercent);
        var images = new byte[frames.Frames.Count][];
        var signatures = new byte[frames.Frames.Count][];
        for (var i = 0; i < images.Length; i++)
        {
            images[i] = SpriteFrameCropper.CropAndResize(frames.Frames[i], frames.Width, frames.Height, square, imageSize);
            signatures[i] = SpriteFrameCropper.Signature(images[i], imageSize);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var chosen = FrameSelector.Select(signatures, maxFrames, duplicateThreshold);
        var pngs = chosen.Select(i => SpriteFrameCropper.EncodePng(images[i], imageSize)).ToArray();
        return new ProcessedAnimation(images.Length, chosen, pngs);
    }
}
