using System.Diagnostics;
using System.Security.Cryptography;
using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Features;

namespace PokeClassifier.Benchmarks;

/// <summary>Single-threaded cost of each stage of the library's per-image work, to explain the end-to-end / bare ratio.</summary>
internal sealed record StageCosts
{
    public int Images { get; init; }

    public double ReadAndHashMs { get; init; }

    public double DecodeAndResizeMs { get; init; }

    public double PreprocessMs { get; init; }

    public double InferenceMs { get; init; }

    /// <summary>CPU the library spends per computed image besides inference, as a share of the total.</summary>
    public double OverheadShare => (ReadAndHashMs + DecodeAndResizeMs + PreprocessMs) / (ReadAndHashMs + DecodeAndResizeMs + PreprocessMs + InferenceMs);

    public static StageCosts Measure(BackboneSpec spec, IReadOnlyList<DatasetItem> items)
    {
        Console.Error.WriteLine($"Stage costs over {items.Count} images, one thread...");
        var preprocessor = new Preprocessor(spec.Preprocessing, spec.InputWidth, spec.InputHeight);
        var maxPixels = new FeaturizerOptions().MaxDecodePixels;
        using var session = new BareOnnxBaseline(spec, sessions: 1, intraOpThreads: 1);
        double read = 0, decode = 0, preprocess = 0, inference = 0;
        var tensor = new float[preprocessor.TensorLength];
        for (var pass = 0; pass < 2; pass++)
        {
            // Pass 0 warms everything up on a few images; pass 1 is measured.
            var list = pass == 0 ? items.Take(3).ToArray() : items;
            read = decode = preprocess = inference = 0;
            foreach (var item in list)
            {
                var watch = Stopwatch.StartNew();
                var bytes = File.ReadAllBytes(item.Path);
                _ = SHA256.HashData(bytes);
                read += watch.Elapsed.TotalMilliseconds;
                watch.Restart();
                // As the library does: the decoded bitmap's pixels are read in place into a tensor reused from image to image.
                using var bitmap = ImageDecoder.Decode(bytes, item.Path, spec.InputWidth, spec.InputHeight, maxPixels);
                decode += watch.Elapsed.TotalMilliseconds;
                watch.Restart();
                preprocessor.Fill(bitmap.GetPixelSpan(), tensor);
                preprocess += watch.Elapsed.TotalMilliseconds;
                watch.Restart();
                session.Run([tensor]);
                inference += watch.Elapsed.TotalMilliseconds;
            }
        }

        return new StageCosts
        {
            Images = items.Count,
            ReadAndHashMs = read / items.Count,
            DecodeAndResizeMs = decode / items.Count,
            PreprocessMs = preprocess / items.Count,
            InferenceMs = inference / items.Count,
        };
    }
}
