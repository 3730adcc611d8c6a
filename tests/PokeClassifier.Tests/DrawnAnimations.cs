using System.Globalization;
using System.Text;
using PokeClassifier.Data;
using SkiaSharp;

namespace PokeClassifier.Tests;

/// <summary>
/// A drawn stand-in for the sprite set that needs no download: classes of distinct figures (a shape, a colour and a texture),
/// each drawn in four "animations" (groups) like a sprite's front, back, front-shiny and back-shiny GIFs: one pose, scale and
/// cluttered background per animation, the figure moving a little from frame to frame. Written as one folder per class
/// (<c>Class/003_front_f001.png</c>), a <c>manifest.csv</c> with the sprite manifest's columns (<c>path,class,id,variant,source_group,frame</c>)
/// and <c>holdout-front.csv</c>, a split file holding out each class's front animation. Self-contained (SkiaSharp and the
/// library's <see cref="DatasetItem"/> only), so that tests/CacheProbe links it to draw data for the package checks.
/// </summary>
internal sealed class DrawnAnimations
{
    public static readonly string[] Poses = ["front", "back", "front-shiny", "back-shiny"];

    private static readonly string[] Shapes = ["circle", "square", "triangle", "star", "diamond", "hexagon", "cross", "ring"];

    private static readonly string[] Textures = ["solid", "stripes", "dots", "checker"];

    private static readonly Dictionary<(int, int, int, int), Lazy<DrawnAnimations>> Shared = [];

    private DrawnAnimations(string root, IReadOnlyList<string> classes, IReadOnlyList<DatasetItem> items)
    {
        Root = root;
        Classes = classes;
        Items = items;
    }

    public string Root { get; }

    public IReadOnlyList<string> Classes { get; }

    /// <summary>Every image, by class, then frame, then pose (so that the first few of a class span its animations).</summary>
    public IReadOnlyList<DatasetItem> Items { get; }

    public string Manifest => Path.Combine(Root, "manifest.csv");

    public string HoldoutFrontSplit => Path.Combine(Root, "holdout-front.csv");

    /// <summary>The items of the first <paramref name="classes"/> classes, split as <see cref="HoldoutFrontSplit"/> does.</summary>
    public (DatasetItem[] Train, DatasetItem[] Test) HoldoutFront(int classes)
    {
        var kept = Classes.Take(classes).ToHashSet(StringComparer.Ordinal);
        var items = Items.Where(i => kept.Contains(i.Label)).ToArray();
        return (items.Where(i => !i.Group!.EndsWith("_front", StringComparison.Ordinal)).ToArray(), items.Where(i => i.Group!.EndsWith("_front", StringComparison.Ordinal)).ToArray());
    }

    /// <summary><paramref name="perClass"/> images of each named class after skipping <paramref name="skip"/>, in a fixed order.</summary>
    public DatasetItem[] Take(IEnumerable<string> classes, int perClass, int skip = 0) =>
        classes.SelectMany(c => Items.Where(i => i.Label == c).Skip(skip).Take(perClass)).ToArray();

    /// <summary>One set per process for each shape of arguments (drawing is cheap; the folder is written once).</summary>
    public static DrawnAnimations Get(int classes, int framesPerAnimation, int size = 128, int seed = 1)
    {
        Lazy<DrawnAnimations> lazy;
        lock (Shared)
        {
            if (!Shared.TryGetValue((classes, framesPerAnimation, size, seed), out lazy!))
            {
                lazy = new Lazy<DrawnAnimations>(() => Write(Path.Combine(Path.GetTempPath(), $"drawn-{Guid.NewGuid():N}"), classes, framesPerAnimation, size, seed));
                Shared[(classes, framesPerAnimation, size, seed)] = lazy;
            }
        }

        return lazy.Value;
    }

    /// <summary>The name of class <paramref name="k"/>: its colour, shape and texture.</summary>
    public static string ClassName(int k) => $"{Hue(k).Name}-{Shapes[k % Shapes.Length]}-{Textures[(k / Shapes.Length) % Textures.Length]}";

    /// <summary>Draws and writes a set of <paramref name="classes"/> classes (at most 32).</summary>
    public static DrawnAnimations Write(string root, int classes, int framesPerAnimation, int size = 128, int seed = 1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(classes, Shapes.Length * Textures.Length);
        Directory.CreateDirectory(root);
        var names = Enumerable.Range(0, classes).Select(ClassName).ToArray();
        var items = new List<DatasetItem>();
        var manifest = new StringBuilder("path,class,id,variant,source_group,frame\n");
        var split = new StringBuilder("path,class,split\n");
        for (var k = 0; k < classes; k++)
        {
            Directory.CreateDirectory(Path.Combine(root, names[k]));
            var classItems = new List<(int Frame, int Pose, DatasetItem Item)>();
            for (var p = 0; p < Poses.Length; p++)
            {
                var rng = new Random((seed * 1_000_003) + (k * 131) + p);
                var animation = new Animation(rng, size);
                var group = $"{k + 1:D3}_{Poses[p]}";
                for (var f = 0; f < framesPerAnimation; f++)
                {
                    var relative = $"{names[k]}/{group}_f{f:D3}.png";
                    var path = Path.Combine(root, names[k], $"{group}_f{f:D3}.png");
                    using (var bitmap = Draw(k, p, animation, f, framesPerAnimation, size))
                    {
                        using var image = SKImage.FromBitmap(bitmap);
                        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
                        File.WriteAllBytes(path, png.ToArray());
                    }

                    manifest.Append(CultureInfo.InvariantCulture, $"{relative},{names[k]},{k + 1},{Poses[p]},{group},{f}\n");
                    split.Append(CultureInfo.InvariantCulture, $"{relative},{names[k]},{(Poses[p] == "front" ? "test" : "train")}\n");
                    classItems.Add((f, p, new DatasetItem { Path = path, Label = names[k], Group = group }));
                }
            }

            items.AddRange(classItems.OrderBy(c => c.Frame).ThenBy(c => c.Pose).Select(c => c.Item));
        }

        File.WriteAllText(Path.Combine(root, "manifest.csv"), manifest.ToString());
        File.WriteAllText(Path.Combine(root, "holdout-front.csv"), split.ToString());
        return new DrawnAnimations(root, names, items);
    }

    private static (string Name, float Degrees) Hue(int k)
    {
        (string, float)[] hues = [("red", 0), ("orange", 30), ("yellow", 55), ("green", 120), ("teal", 175), ("blue", 220), ("purple", 275), ("pink", 320)];
        return hues[((k * 3) + (k / Shapes.Length)) % hues.Length];
    }

    private static SKBitmap Draw(int k, int pose, Animation a, int frame, int frames, int size)
    {
        var bitmap = new SKBitmap(size, size, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(a.Background);
        using (var clutter = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Stroke, StrokeWidth = size / 40f })
        {
            foreach (var (x0, y0, x1, y1, line) in a.Clutter)
            {
                clutter.Color = line;
                canvas.DrawLine(x0, y0, x1, y1, clutter);
            }
        }

        var phase = 2 * Math.PI * frame / Math.Max(frames, 1);
        var shiny = Poses[pose].EndsWith("shiny", StringComparison.Ordinal);
        var back = Poses[pose].StartsWith("back", StringComparison.Ordinal);
        var colour = SKColor.FromHsv((Hue(k).Degrees + (shiny ? 25 : 0)) % 360, shiny ? 60 : 85, shiny ? 95 : 80);
        var r = a.Radius * (1 + (0.06f * (float)Math.Sin(phase)));
        canvas.Translate(a.X + (3 * (float)Math.Cos(phase)), a.Y + (4 * (float)Math.Sin(phase)));
        canvas.RotateDegrees(a.Tilt + (back ? 180 : 0) + (8 * (float)Math.Sin(phase)));
        using var outline = Outline(Shapes[k % Shapes.Length], r);
        using var fill = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Fill, Color = colour };
        canvas.DrawPath(outline, fill);
        canvas.Save();
        canvas.ClipPath(outline, antialias: true);
        using var mark = new SKPaint { IsAntialias = true, Style = SKPaintStyle.Fill, Color = SKColor.FromHsv((Hue(k).Degrees + 180) % 360, 30, back ? 25 : 15) };
        switch (Textures[(k / Shapes.Length) % Textures.Length])
        {
            case "stripes":
                for (var y = -r; y < r; y += r / 3)
                {
                    canvas.DrawRect(-r, y, 2 * r, r / 7, mark);
                }

                break;
            case "dots":
                for (var y = -r; y < r; y += r / 2.5f)
                {
                    for (var x = -r; x < r; x += r / 2.5f)
                    {
                        canvas.DrawCircle(x, y, r / 9, mark);
                    }
                }

                break;
            case "checker":
                for (var y = -r; y < r; y += r / 2)
                {
                    for (var x = -r + (((int)((y + r) / (r / 2)) % 2) * (r / 2)); x < r; x += r)
                    {
                        canvas.DrawRect(x, y, r / 2, r / 2, mark);
                    }
                }

                break;
        }

        canvas.Restore();
        if (!back)
        {
            // The front view has an eye.
            using var eye = new SKPaint { IsAntialias = true, Color = SKColors.White };
            canvas.DrawCircle(-r * 0.3f, -r * 0.3f, r * 0.16f, eye);
            eye.Color = SKColors.Black;
            canvas.DrawCircle(-r * 0.27f, -r * 0.3f, r * 0.08f, eye);
        }

        return bitmap;
    }

    private static SKPath Outline(string shape, float r)
    {
        var path = new SKPath();
        switch (shape)
        {
            case "circle":
                path.AddCircle(0, 0, r);
                break;
            case "square":
                path.AddRect(new SKRect(-r * 0.85f, -r * 0.85f, r * 0.85f, r * 0.85f));
                break;
            case "ring":
                path.AddCircle(0, 0, r);
                path.AddCircle(0, 0, r * 0.5f, SKPathDirection.CounterClockwise);
                break;
            case "cross":
                path.AddRect(new SKRect(-r, -r * 0.33f, r, r * 0.33f));
                path.AddRect(new SKRect(-r * 0.33f, -r, r * 0.33f, r));
                path.FillType = SKPathFillType.Winding;
                break;
            default:
                var (points, inner) = shape switch { "triangle" => (3, 1f), "star" => (5, 0.45f), "diamond" => (4, 1f), _ => (6, 1f) };
                var steps = inner < 1 ? points * 2 : points;
                for (var i = 0; i < steps; i++)
                {
                    var angle = (-Math.PI / 2) + (2 * Math.PI * i / steps);
                    var radius = inner < 1 && i % 2 == 1 ? r * inner : r;
                    var (x, y) = ((float)(radius * Math.Cos(angle)), (float)(radius * Math.Sin(angle)));
                    if (i == 0)
                    {
                        path.MoveTo(x, y);
                    }
                    else
                    {
                        path.LineTo(x, y);
                    }
                }

                path.Close();
                break;
        }

        return path;
    }

    /// <summary>What stays fixed within one animation: background, clutter, position, size and tilt.</summary>
    private sealed class Animation
    {
        public Animation(Random rng, int size)
        {
            Background = SKColor.FromHsv(rng.Next(0, 360), rng.Next(5, 30), rng.Next(80, 100));
            Clutter = Enumerable.Range(0, 6).Select(_ => ((float)rng.Next(size), (float)rng.Next(size), (float)rng.Next(size), (float)rng.Next(size),
                SKColor.FromHsv(rng.Next(0, 360), rng.Next(20, 60), rng.Next(50, 90)))).ToArray();
            Radius = size * (0.24f + (0.1f * (float)rng.NextDouble()));
            X = (size / 2f) + rng.Next(-size / 10, (size / 10) + 1);
            Y = (size / 2f) + rng.Next(-size / 10, (size / 10) + 1);
            Tilt = rng.Next(-20, 21);
        }

        public SKColor Background { get; }

        public (float, float, float, float, SKColor)[] Clutter { get; }

        public float Radius { get; }

        public float X { get; }

        public float Y { get; }

        public float Tilt { get; }
    }
}
