using Microsoft.AspNetCore.Builder;
using PokeClassifier;
using PokeClassifier.Training;
using SkiaSharp;

namespace PokemonService.Tests;

/// <summary>
/// A model trained on drawn shapes (ResNet18 + ML.NET head), and the service started on it on a free 127.0.0.1 port with real
/// Kestrel: the tests talk to it over real HTTP.
/// </summary>
public sealed class ServiceFixture : IAsyncLifetime
{
    public const long MaxRequestBytes = 200_000;

    public string Root { get; } = Path.Combine(Path.GetTempPath(), $"service-{Guid.NewGuid():N}");

    public string ModelPath => Path.Combine(Root, "model.zip");

    public WebApplication App { get; private set; } = null!;

    public Uri BaseAddress { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    /// <summary>The same model loaded apart from the service, for the expected answers.</summary>
    public TrainedClassifier Reference { get; private set; } = null!;

    public static byte[] Shape(string shape, int seed, int size = 96)
    {
        var rng = new Random(seed);
        using var bitmap = new SKBitmap(size, size, SKColorType.Rgba8888, SKAlphaType.Premul);
        using (var canvas = new SKCanvas(bitmap))
        using (var paint = new SKPaint { IsAntialias = true, Color = shape == "circle" ? new SKColor(220, 30, 30) : shape == "square" ? new SKColor(30, 160, 30) : new SKColor(30, 30, 220) })
        {
            canvas.Clear(new SKColor((byte)rng.Next(190, 256), (byte)rng.Next(190, 256), (byte)rng.Next(190, 256)));
            var r = (size / 5f) + rng.Next(0, size / 8);
            var cx = (size / 2f) + rng.Next(-size / 10, size / 10);
            var cy = (size / 2f) + rng.Next(-size / 10, size / 10);
            if (shape == "circle")
            {
                canvas.DrawCircle(cx, cy, r, paint);
            }
            else if (shape == "square")
            {
                canvas.DrawRect(cx - r, cy - r, 2 * r, 2 * r, paint);
            }
            else
            {
                using var path = new SKPath();
                path.MoveTo(cx, cy - r);
                path.LineTo(cx + r, cy + r);
                path.LineTo(cx - r, cy + r);
                path.Close();
                canvas.DrawPath(path, paint);
            }
        }

        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    public async Task InitializeAsync()
    {
        var data = Path.Combine(Root, "shapes");
        foreach (var shape in new[] { "circle", "square", "triangle" })
        {
            Directory.CreateDirectory(Path.Combine(data, shape));
            for (var i = 0; i < 6; i++)
            {
                await File.WriteAllBytesAsync(Path.Combine(data, shape, $"{shape}_{i}.png"), Shape(shape, seed: (shape.Length * 100) + i));
            }
        }

        var dataset = await PokeClassifier.Data.ImageDataset.FromFolderAsync(data);
        using (var trained = await ImageClassification.From(dataset).WithFeatureCache(Path.Combine(Root, "cache")).TrainAsync(dataset.Items))
        {
            trained.Save(ModelPath);
        }

        Reference = TrainedClassifier.Load(ModelPath, options: new PokeClassifier.Features.FeaturizerOptions { UseCache = false, Parallelism = 1 });
        App = ServiceApp.Build(["--Model:Path", ModelPath, "--urls", "http://127.0.0.1:0", "--Service:MaxRequestBytes", MaxRequestBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), "--Model:Parallelism", "2"]);
        await App.StartAsync();
        BaseAddress = new Uri(App.Urls.Single(u => u.StartsWith("http://127.0.0.1:", StringComparison.Ordinal)) + "/");
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        Reference.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
