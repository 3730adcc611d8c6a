using System.Globalization;
using System.Text.Json;
using PokeClassifier.Evaluation;
using PokeClassifier.Experiments;
using PokeClassifier.Reporting;
using PokeClassifier.Tests.Browser;
using PokeClassifier.Training;
using SkiaSharp;

namespace PokeClassifier.Tests.Reporting;

/// <summary>
/// The HTML report opened in a real headless Chromium (DevTools protocol): no script error, sortable tables that sort when their
/// heading is clicked, links that resolve, charts and thumbnails that render, and a 150-class report that fits the page width.
/// </summary>
public sealed class HtmlReportBrowserTests : IAsyncLifetime
{
    private readonly string _dir = TestImages.NewTempDir("report-browser");
    private Chromium _browser = null!;

    public async Task InitializeAsync() => _browser = await Chromium.LaunchAsync();

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Theory]
    [InlineData(150, 1280)]
    [InlineData(150, 900)]
    [InlineData(6, 1280)]
    public async Task Given_a_report_When_opened_in_a_browser_Then_it_loads_cleanly_renders_and_fits_the_page(int classCount, int width)
    {
        var html = Path.Combine(_dir, $"report-{classCount}.html");
        if (!File.Exists(html))
        {
            await File.WriteAllTextAsync(html, ExperimentReport.ToHtml(Result(classCount), new HtmlReportOptions { Title = $"{classCount} classes" }));
        }

        var page = await _browser.NewPageAsync(width, 900);
        await page.NavigateAsync(new Uri(html).AbsoluteUri);
        await page.WaitForAsync("document.readyState === 'complete' && [...document.images].every(i => i.complete)");
        Assert.Empty(page.Errors);

        // No horizontal overflow of the page: wide content (the big heatmaps) scrolls inside its own box.
        var widths = await page.EvaluateAsync("[document.documentElement.scrollWidth, document.documentElement.clientWidth, document.body.scrollWidth]");
        Assert.True(widths[0].GetInt32() <= widths[1].GetInt32(), $"page overflows: scrollWidth {widths[0]} > clientWidth {widths[1]} at {width} px; widest: {await Widest(page)}");

        // Every in-page link has its target; there are no other links.
        var links = await page.EvaluateAsync("[...document.querySelectorAll('a[href]')].map(a => [a.getAttribute('href'), a.getAttribute('href').startsWith('#') && !!document.getElementById(a.getAttribute('href').slice(1))])");
        Assert.True(links.GetArrayLength() >= 5);
        Assert.All(links.EnumerateArray(), l => Assert.True(l[1].GetBoolean(), $"link {l[0]} resolves to nothing"));

        // Charts: every SVG outside a closed <details> has a real box; so do the thumbnails, which decoded.
        var svgs = await page.EvaluateAsync("[...document.querySelectorAll('svg')].filter(s => !s.closest('details:not([open])')).map(s => { const r = s.getBoundingClientRect(); return [s.id || s.parentElement.tagName, r.width, r.height, s.querySelectorAll('rect,path,polyline,line,text').length]; })");
        Assert.True(svgs.GetArrayLength() >= 4, $"{svgs.GetArrayLength()} charts");
        Assert.All(svgs.EnumerateArray(), s => Assert.True(s[1].GetDouble() > 50 && s[2].GetDouble() > 50 && s[3].GetInt32() > 3, $"chart {s[0]} renders at {s[1]} x {s[2]} with {s[3]} shapes"));
        var images = await page.EvaluateAsync("[...document.querySelectorAll('figure img, .ex img')].map(i => { const r = i.getBoundingClientRect(); return [i.naturalWidth, r.width, r.height]; })");
        Assert.True(images.GetArrayLength() > 0, "no thumbnails");
        Assert.All(images.EnumerateArray(), i => Assert.True(i[0].GetInt32() > 0 && i[1].GetDouble() > 0 && i[2].GetDouble() > 0, $"thumbnail {i}"));

        // Sorting: click the comparison's "F1 (macro)" heading, then again; click "Class" of the per-class table.
        await page.ClickAsync("#comparison table.sortable th:nth-child(7)");
        var ascending = await ColumnValues(page, "#comparison table.sortable", 7);
        Assert.Equal(ascending.Order(), ascending);
        await page.ClickAsync("#comparison table.sortable th:nth-child(7)");
        var descending = await ColumnValues(page, "#comparison table.sortable", 7);
        Assert.Equal(descending.OrderDescending(), descending);

        await page.ClickAsync("#classes table.sortable th:nth-child(1)");
        var names = (await page.EvaluateAsync("[...document.querySelectorAll('#classes tbody tr')].map(r => r.cells[0].textContent.trim().toLowerCase())")).EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(classCount, names.Length);
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
        await page.ClickAsync("#classes table.sortable th:nth-child(3)");
        var f1 = await ColumnValues(page, "#classes table.sortable", 3);
        Assert.Equal(f1.Order(), f1);
        Assert.Empty(page.Errors);
    }

    private static async Task<double[]> ColumnValues(CdpPage page, string table, int column)
    {
        var values = await page.EvaluateAsync($"[...document.querySelectorAll({JsonSerializer.Serialize(table)} + ' tbody tr')].map(r => parseFloat(r.cells[{column - 1}].dataset.v ?? r.cells[{column - 1}].textContent))");
        return values.EnumerateArray().Select(v => v.GetDouble()).ToArray();
    }

    /// <summary>The outermost elements that stick out of the page with no scrolling box around them: what makes it overflow.</summary>
    private static async Task<string> Widest(CdpPage page) =>
        (await page.EvaluateAsync("""
            (() => {
              const cw = document.documentElement.clientWidth, out = [];
              const clipped = e => { for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) { if (getComputedStyle(a).overflowX !== 'visible') return true; } return false; };
              for (const e of document.querySelectorAll('body *')) {
                const r = e.getBoundingClientRect();
                if (r.right > cw + 1 && !clipped(e) && !(e.parentElement && e.parentElement.getBoundingClientRect().right > cw + 1 && !clipped(e.parentElement))) {
                  out.push(`${e.tagName}${e.id ? '#' + e.id : ''}${typeof e.className === 'string' && e.className ? '.' + e.className : ''} in ${e.closest('section')?.id} right ${Math.round(r.right)}: ${(e.textContent || '').trim().slice(0, 60)}`);
                }
              }
              return out.slice(0, 8).join(' | ');
            })()
            """)).GetString() ?? string.Empty;

    /// <summary>Two configurations over <paramref name="classCount"/> classes (one with a training history), with real thumbnails.</summary>
    private ExperimentResult Result(int classCount)
    {
        var rng = new Random(classCount);
        var classes = Enumerable.Range(0, classCount)
            .Select(i => i % 37 == 5 ? $"Very-long-class-name-number-{i:D3}-with-extra-words" : $"Class{i:D3}")
            .Order(StringComparer.Ordinal).ToArray();
        var images = Path.Combine(_dir, $"images-{classCount}");
        Directory.CreateDirectory(images);
        var shapes = new[] { "circle", "square", "triangle", "cross" };
        var items = new List<(string Path, string Label)>();
        foreach (var label in classes)
        {
            for (var i = 0; i < 3; i++)
            {
                var path = Path.Combine(images, $"{label}-{i}.png");
                using var bmp = TestImages.Shape(shapes[rng.Next(4)], rng, size: 48);
                File.WriteAllBytes(path, TestImages.Encode(bmp, SKEncodedImageFormat.Png));
                items.Add((path, label));
            }
        }

        ConfigurationResult Configuration(string name, double errorRate, bool history)
        {
            var predictions = items.Select(item =>
            {
                var wrong = rng.NextDouble() < errorRate;
                var predicted = wrong ? classes[(Array.IndexOf(classes, item.Label) + 1 + rng.Next(3)) % classes.Length] : item.Label;
                var p = (float)(0.4 + (0.5 * rng.NextDouble()));
                var probabilities = classes.Select(c => c == predicted ? p : (1 - p) / (classes.Length - 1)).ToArray();
                return new Prediction { Path = item.Path, TrueLabel = item.Label, PredictedLabel = predicted, Probabilities = probabilities };
            }).ToArray();
            var metrics = Evaluator.ComputeMetrics(classes, predictions);
            return new ConfigurationResult
            {
                Name = name,
                Backbone = "ResNet18",
                Head = history ? "TorchSharp FlattenDense256" : "ML.NET LbfgsMaximumEntropy",
                TrainingPath = history ? "TorchSharp" : "ML.NET",
                Metrics = metrics,
                Errors = Evaluator.ComputeErrors(classes, predictions),
                Predictions = predictions,
                Timings = new ConfigurationTimings { FeaturizationSeconds = 12, TrainingSeconds = history ? 30 : 2.5, PredictionMillisecondsPerImage = 21 },
                ModelSizeBytes = 45_000_000,
                PeakMemoryBytes = 900_000_000,
                Folds = [new FoldResult { Fold = 0, TrainCount = 1000, TestCount = predictions.Length, Metrics = metrics }],
                TrainingHistory = history
                    ? [.. Enumerable.Range(1, 8).Select(e => new EpochRecord { Epoch = e, TrainLoss = 3.0 / e, TrainAccuracy = Math.Min(1, 0.12 * e), ValidationLoss = 3.3 / e, ValidationAccuracy = Math.Min(1, 0.1 * e), LearningRate = 1e-3 * Math.Pow(0.9, e - 1), Seconds = 3 })]
                    : [],
            };
        }

        return new ExperimentResult
        {
            Classes = classes,
            Dataset = $"drawn shapes, {classCount} classes",
            DatasetRoot = images,
            Protocol = "split: train 1000, validation 0, test 450",
            Seed = 1,
            Configurations = [Configuration("resnet18 + lbfgs", 0.3, history: false), Configuration("resnet18 + dense256", 0.2, history: true)],
            Skipped = [new PokeClassifier.Data.SkippedFile { Path = Path.Combine(images, "broken.png"), Label = classes[0], Reason = PokeClassifier.Data.SkipReason.Truncated, Detail = "the image data ends early" }],
        };
    }
}
