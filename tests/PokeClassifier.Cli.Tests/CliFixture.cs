using SkiaSharp;
using Spectre.Console.Testing;

namespace PokeClassifier.Cli.Tests;

/// <summary>
/// A small drawn-shapes dataset, one feature cache and one model trained through the real entry point, shared by the tests
/// (ResNet18 inference is the expensive part; the cache makes every later command cheap).
/// </summary>
public sealed class CliFixture : IAsyncLifetime
{
    public string Root { get; } = NewTempDir("cli-work");

    public string Data => Path.Combine(Root, "shapes");

    public string Cache => Path.Combine(Root, "cache");

    public string Model => Path.Combine(Root, "model.zip");

    public CliRun Train { get; private set; } = null!;

    public static string NewTempDir(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Draws <paramref name="perClass"/> images of each shape into one folder per class.</summary>
    public static void DrawShapes(string root, int perClass, int seed, params string[] shapes)
    {
        var rng = new Random(seed);
        foreach (var shape in shapes)
        {
            Directory.CreateDirectory(Path.Combine(root, shape));
            for (var i = 0; i < perClass; i++)
            {
                using var bitmap = new SKBitmap(128, 128, SKColorType.Rgba8888, SKAlphaType.Premul);
                using (var canvas = new SKCanvas(bitmap))
                using (var paint = new SKPaint { IsAntialias = true, Color = shape == "circle" ? new SKColor(220, 30, 30) : shape == "square" ? new SKColor(30, 160, 30) : new SKColor(30, 30, 220) })
                {
                    canvas.Clear(new SKColor((byte)rng.Next(190, 256), (byte)rng.Next(190, 256), (byte)rng.Next(190, 256)));
                    var r = 25f + rng.Next(0, 15);
                    var cx = 64f + rng.Next(-12, 12);
                    var cy = 64f + rng.Next(-12, 12);
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
                File.WriteAllBytes(Path.Combine(root, shape, $"{shape}_{i:D2}.png"), data.ToArray());
            }
        }
    }

    public async Task InitializeAsync()
    {
        DrawShapes(Data, 10, seed: 3, "circle", "square", "triangle");
        Train = await CliRun.RunAsync("train", Data, "--out", Model, "--cache", Cache, "--split", "0.7,0,0.3", "--seed", "5");
    }

    public Task DisposeAsync()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }

        return Task.CompletedTask;
    }
}

/// <summary>One run of the tool through <see cref="CliApp.RunAsync(string[], Spectre.Console.IAnsiConsole, Spectre.Console.IAnsiConsole, CancellationToken)"/>.</summary>
public sealed record CliRun(int ExitCode, string Output, string Errors)
{
    public IReadOnlyList<string> ErrorLines => Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public static Task<CliRun> RunAsync(params string[] args) => RunAsync(CancellationToken.None, args);

    public static async Task<CliRun> RunAsync(CancellationToken cancellationToken, params string[] args)
    {
        using var output = new TestConsole();
        using var errors = new TestConsole();
        output.Profile.Width = 200;
        errors.Profile.Capabilities.Ansi = false;
        var code = await CliApp.RunAsync(args, output, errors, cancellationToken);
        return new CliRun(code, output.Output, errors.Output);
    }

    public override string ToString() => $"exit {ExitCode}\n--- output ---\n{Output}\n--- errors ---\n{Errors}";
}
