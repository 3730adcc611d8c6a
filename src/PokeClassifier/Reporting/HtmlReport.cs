using System.Globalization;
using System.Net;
using System.Text;
using PokeClassifier.Evaluation;
using PokeClassifier.Experiments;
using PokeClassifier.Training.LearningRate;

namespace PokeClassifier.Reporting;

/// <summary>Writes the self-contained HTML report: inline CSS, a few lines of inline JavaScript, charts as inline SVG, thumbnails as data URIs.</summary>
internal static class HtmlReport
{
    private const string Css = """
        :root{--fg:#1d2330;--muted:#5b6475;--line:#dde1e8;--accent:#1f77b4;--good:#e8f4ea;--bad:#fdecea}
        *{box-sizing:border-box}
        body{font:14px/1.45 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:var(--fg);margin:0;background:#f6f7f9}
        main{max-width:1360px;margin:0 auto;padding:16px 24px 48px}
        header{background:#1d2330;color:#fff;padding:18px 24px}
        header h1{margin:0 0 4px;font-size:22px}
        header p{margin:0;color:#c8cfdb}
        nav{background:#fff;border-bottom:1px solid var(--line);padding:8px 24px;position:sticky;top:0;z-index:2;font-size:13px}
        nav a{margin-right:14px;color:var(--accent);text-decoration:none}
        section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:14px 18px;margin:16px 0}
        h2{font-size:18px;margin:0 0 10px}
        h3{font-size:15px;margin:18px 0 8px}
        h4{font-size:13px;margin:12px 0 6px}
        .meta,.note{color:var(--muted);font-size:12.5px}
        .verdict{font-size:16px;background:var(--good);border-left:4px solid #2ca02c;padding:10px 14px;border-radius:4px}
        table{border-collapse:collapse;font-size:12.5px;margin:6px 0}
        th,td{border-bottom:1px solid var(--line);padding:4px 7px;text-align:right;white-space:nowrap}
        th{white-space:normal;vertical-align:bottom}
        td.text.wrap{white-space:normal;min-width:140px;overflow-wrap:anywhere}
        td.text.label{white-space:normal;min-width:80px;overflow-wrap:anywhere}
        th{background:#f0f2f5;position:sticky;top:0}
        th:first-child,td:first-child,.text{text-align:left}
        table.sortable th{cursor:pointer}
        table.sortable th::after{content:" \2195";color:#aab}
        tr.best td{background:var(--good)}
        td.top{font-weight:bold}
        .scroll{max-height:460px;overflow:auto;border:1px solid var(--line);display:inline-block;max-width:100%}
        .wide{overflow-x:auto}
        .grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(420px,100%),1fr));gap:12px;align-items:start}
        .grid>*{min-width:0;overflow-x:auto}
        svg.chart{max-width:100%;height:auto;display:block}
        svg.native{max-width:none}
        svg image{image-rendering:pixelated}
        .gallery{display:flex;flex-wrap:wrap;gap:8px}
        figure{margin:0;width:112px;text-align:center;font-size:11px;border:1px solid var(--line);border-radius:4px;padding:4px;background:#fff}
        figure img{display:block;margin:0 auto 2px;max-width:104px}
        figcaption b{color:#b2182b}
        .ex{display:inline-flex;gap:4px;vertical-align:middle}
        .ex img{height:40px;border:1px solid var(--line)}
        details summary{cursor:pointer;color:var(--accent);margin:8px 0}
        .missing{width:96px;height:96px;display:flex;align-items:center;justify-content:center;color:#999;background:#f3f3f3}
        """;

    private const string Script = """
        document.querySelectorAll('table.sortable th').forEach(th=>th.addEventListener('click',()=>{
          const t=th.closest('table'),b=t.tBodies[0],i=th.cellIndex,asc=th.dataset.dir!=='asc';
          t.querySelectorAll('th').forEach(h=>delete h.dataset.dir);th.dataset.dir=asc?'asc':'desc';
          const v=r=>{const c=r.cells[i],s=c.dataset.v??c.textContent.trim(),n=parseFloat(s);return isNaN(n)?s.toLowerCase():n;};
          [...b.rows].sort((x,y)=>{const p=v(x),q=v(y);return (p<q?-1:p>q?1:0)*(asc?1:-1);}).forEach(r=>b.appendChild(r));}));
        """;

    public static string Build(ExperimentResult result, HtmlReportOptions options)
    {
        var thumbs = new Thumbnails(options.ThumbnailSize, options.ThumbnailQuality);
        var h = new StringBuilder();
        h.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        h.Append("<title>").Append(E(options.Title)).Append("</title><style>").Append(Css).Append("</style></head><body>\n");
        h.Append("<header><h1>").Append(E(options.Title)).Append("</h1><p>").Append(E(result.Dataset)).Append(" · ").Append(E(result.Protocol))
            .Append(CultureInfo.InvariantCulture, $" · seed {result.Seed} · {result.Classes.Count} classes · {result.Configurations.Count} configuration(s)</p></header>\n");
        h.Append("<nav><a href=\"#comparison\">Comparison</a><a href=\"#curves\">Training curves</a>");
        if (options.LearningRateFinder is not null)
        {
            h.Append("<a href=\"#lr-find\">Learning rate</a>");
        }

        h.Append("<a href=\"#classes\">Per-class F1</a>");
        for (var i = 0; i < result.Configurations.Count; i++)
        {
            h.Append(CultureInfo.InvariantCulture, $"<a href=\"#cfg-{i}\">{E(result.Configurations[i].Name)}</a>");
        }

        h.Append("<a href=\"#skipped\">Skipped files</a><a href=\"#help\">How to read</a></nav>\n<main>\n");
        Comparison(h, result);
        Curves(h, result);
        if (options.LearningRateFinder is { } finder)
        {
            LearningRate(h, finder);
        }
        PerClass(h, result);
        var order = HeatmapOrder(result, options);
        for (var i = 0; i < result.Configurations.Count; i++)
        {
            Configuration(h, result, i, order, options, thumbs);
        }

        Skipped(h, result);
        Help(h, result, options);
        h.Append("</main>\n<script>").Append(Script).Append("</script>\n</body></html>\n");
        return h.ToString();
    }

    private static void Comparison(StringBuilder h, ExperimentResult result)
    {
        h.Append("<section id=\"comparison\"><h2>Comparison</h2>\n<p class=\"verdict\">").Append(E(ReportText.Verdict(result))).Append("</p>\n");
        var kfold = result.FoldCount > 1;
        h.Append("<p class=\"note\">Macro averages over classes").Append(kfold ? ", mean ± standard deviation over folds" : string.Empty)
            .Append(". Best value of each column in bold; the winning row (highest macro F1) is green. Click a heading to sort.</p>\n");
        h.Append("<div class=\"wide\"><table class=\"sortable\"><thead><tr><th>Rank</th><th class=\"text\">Configuration</th><th class=\"text\">Backbone</th><th class=\"text\">Head</th>")
            .Append("<th>Precision</th><th>Recall</th><th>F1 (macro)</th><th>Accuracy</th><th>Top-5</th><th>Log-loss</th><th>featurize s</th><th>train s</th><th>ms/img</th><th>model MB</th><th>peak MB</th></tr></thead><tbody>\n");
        var ranked = result.Ranked;
        var columns = new (Func<ConfigurationResult, double> Value, bool HigherIsBetter)[]
        {
            (c => c.CrossValidation?.MacroPrecision.Mean ?? c.Metrics.MacroPrecision, true), (c => c.CrossValidation?.MacroRecall.Mean ?? c.Metrics.MacroRecall, true),
            (c => c.ComparedMacroF1, true), (c => c.ComparedAccuracy, true), (c => c.CrossValidation?.Top5Accuracy?.Mean ?? c.Top5Accuracy ?? double.NaN, true), (c => c.Metrics.LogLoss, false), (c => c.Timings.FeaturizationSeconds, false),
            (c => c.Timings.TrainingSeconds, false), (c => c.Timings.PredictionMillisecondsPerImage, false), (c => c.ModelSizeBytes, false), (c => c.PeakMemoryBytes, false),
        };
        foreach (var c in result.Configurations)
        {
            var rank = IndexOf(ranked, c) + 1;
            h.Append(rank == 1 && result.Configurations.Count > 1 ? "<tr class=\"best\">" : "<tr>");
            h.Append(CultureInfo.InvariantCulture, $"<td>{rank}</td><td class=\"text\"><a href=\"#cfg-{IndexOf(result.Configurations, c)}\">{E(c.Name)}</a></td><td class=\"text\">{E(c.Backbone)}</td><td class=\"text wrap\">{E(c.Head)}{(c.FineTuned ? " (fine-tuned)" : string.Empty)}</td>");
            var cells = new[]
            {
                ReportText.Metric(c, m => m.MacroPrecision, s => s.MacroPrecision), ReportText.Metric(c, m => m.MacroRecall, s => s.MacroRecall),
                ReportText.Metric(c, m => m.MacroF1, s => s.MacroF1), ReportText.Metric(c, m => m.Accuracy, s => s.Accuracy),
                c.CrossValidation?.Top5Accuracy?.ToString() ?? (c.Top5Accuracy is { } t ? ReportText.Number(t) : "-"), ReportText.Number(c.Metrics.LogLoss),
                ReportText.Fixed(c.Timings.FeaturizationSeconds, 1), ReportText.Fixed(c.Timings.TrainingSeconds, 2), ReportText.Fixed(c.Timings.PredictionMillisecondsPerImage, 1),
                ReportText.Megabytes(c.ModelSizeBytes), ReportText.Megabytes(c.PeakMemoryBytes),
            };
            for (var k = 0; k < cells.Length; k++)
            {
                var value = columns[k].Value(c);
                var values = result.Configurations.Select(columns[k].Value).Where(double.IsFinite).ToArray();
                var top = result.Configurations.Count > 1 && double.IsFinite(value) && values.Length > 0 && value == (columns[k].HigherIsBetter ? values.Max() : values.Min()) && value != 0;
                h.Append(CultureInfo.InvariantCulture, $"<td{(top ? " class=\"top\"" : string.Empty)} data-v=\"{(double.IsFinite(value) ? value.ToString("R", CultureInfo.InvariantCulture) : "-1")}\">{E(cells[k])}</td>");
            }

            h.Append("</tr>\n");
        }

        h.Append("</tbody></table></div>\n<div class=\"grid\">");
        var barHeight = 80 + (result.Configurations.Count * 70);
        h.Append("<div>").Append(Charts.ToSvg(Charts.Metrics(result), 640, barHeight + 40, "metrics")).Append("</div>");
        h.Append("<div>").Append(Charts.ToSvg(Charts.Cost(result, "Training time of the head", "seconds (mean over folds)", c => c.Timings.TrainingSeconds, 4), 640, (barHeight / 2) + 60, "train-time"));
        h.Append(Charts.ToSvg(Charts.Cost(result, "Prediction time, image file to label", "milliseconds per image", c => c.Timings.PredictionMillisecondsPerImage, 5), 640, (barHeight / 2) + 60, "predict-time")).Append("</div>");
        h.Append("</div>\n<p class=\"note\">Featurization is shared by the configurations of one backbone (the cache makes repeated runs fast); model size is the saved file, backbone included; peak memory is the process working set sampled every 50 ms.</p></section>\n");
    }

    private static void Curves(StringBuilder h, ExperimentResult result)
    {
        h.Append("<section id=\"curves\"><h2>Training curves</h2>\n");
        if (result.Configurations.All(c => c.TrainingHistory.Count == 0))
        {
            h.Append("<p class=\"note\">No configuration recorded a per-epoch history: ML.NET heads fit in one call on frozen features, so there is no loss, accuracy or learning rate per epoch to plot.</p></section>\n");
            return;
        }

        var without = result.Configurations.Where(c => c.TrainingHistory.Count == 0).Select(c => c.Name).ToArray();
        h.Append("<div class=\"grid\">");
        h.Append(Charts.ToSvg(Charts.Curves(result, "Loss per epoch", "loss", e => e.TrainLoss, e => e.ValidationLoss), 640, 340, "loss"));
        h.Append(Charts.ToSvg(Charts.Curves(result, "Accuracy per epoch", "accuracy", e => e.TrainAccuracy, e => e.ValidationAccuracy), 640, 340, "accuracy"));
        h.Append(Charts.ToSvg(Charts.Curves(result, "Learning rate per epoch", "learning rate (log scale)", e => e.LearningRate, null, logarithmic: true), 640, 300, "learning-rate"));
        h.Append("</div><p class=\"note\">Solid: training; dashed: validation.");
        if (without.Length > 0)
        {
            h.Append(" No history (ML.NET heads fit in one call): ").Append(E(string.Join(", ", without))).Append('.');
        }

        h.Append("</p></section>\n");
    }

    private static void LearningRate(StringBuilder h, LearningRateFinderResult finder)
    {
        h.Append("<section id=\"lr-find\"><h2>Learning-rate finder</h2>\n<p class=\"verdict\">")
            .Append(E($"Suggested learning rate {LearningRateFinderResult.Rate(finder.SuggestedLearningRate)} (steepest descent of the smoothed loss); the lowest loss was at {LearningRateFinderResult.Rate(finder.LowestLossLearningRate)}, a tenth of it is {LearningRateFinderResult.Rate(finder.MinimumLossLearningRate)}."))
            .Append("</p>\n");
        h.Append(Charts.LearningRateSvg(finder, 720, 420, document: false));
        h.Append("<p class=\"note\">").Append(E($"{finder.Rates.Count} training steps at exponentially growing rates, weights put back afterwards; {finder.StopReason}. Pick a rate on the steep downward part of the curve, before its minimum; the loss axis is cut at 4x the lowest smoothed loss."))
            .Append("</p></section>\n");
    }

    private static void PerClass(StringBuilder h, ExperimentResult result)
    {
        h.Append("<section id=\"classes\"><h2>Per-class F1 by configuration</h2>\n<p class=\"note\">Every class with test images, weakest first in the best configuration. Click a heading to sort by it.</p>\n");
        var best = result.Best;
        var rows = result.Classes
            .Select(label => (Label: label, Support: result.Configurations[0].Metrics.PerClass.First(m => m.Label == label).Support, F1: result.Configurations.Select(c => c.Metrics.PerClass.First(m => m.Label == label)).ToArray()))
            .Where(r => r.Support > 0 || r.F1.Any(m => m.PredictedCount > 0))
            .OrderBy(r => best is null ? 0 : best.Metrics.PerClass.First(m => m.Label == r.Label).F1)
            .ThenBy(r => r.Label, StringComparer.Ordinal)
            .ToArray();
        h.Append("<div class=\"scroll\"><table class=\"sortable\"><thead><tr><th class=\"text\">Class</th><th>Support</th>");
        foreach (var c in result.Configurations)
        {
            h.Append("<th>F1 · ").Append(E(c.Name)).Append("</th>");
        }

        h.Append("</tr></thead><tbody>\n");
        foreach (var r in rows)
        {
            h.Append("<tr><td class=\"text\">").Append(E(r.Label)).Append(CultureInfo.InvariantCulture, $"</td><td>{r.Support}</td>");
            foreach (var m in r.F1)
            {
                h.Append(CultureInfo.InvariantCulture, $"<td data-v=\"{m.F1.ToString("R", CultureInfo.InvariantCulture)}\" style=\"background:{Shade(m.F1)}\">{ReportText.Number(m.F1)}</td>");
            }

            h.Append("</tr>\n");
        }

        h.Append("</tbody></table></div></section>\n");
    }

    private static void Configuration(StringBuilder h, ExperimentResult result, int index, IReadOnlyList<string> orderHint, HtmlReportOptions options, Thumbnails thumbs)
    {
        var c = result.Configurations[index];
        var m = c.Metrics;
        h.Append(CultureInfo.InvariantCulture, $"<section id=\"cfg-{index}\"><h2>{E(c.Name)}</h2>\n");
        h.Append(CultureInfo.InvariantCulture, $"<p class=\"meta\">Backbone {E(c.Backbone)} · head {E(c.Head)} · path {E(c.TrainingPath)} · {(c.FineTuned ? "fine-tuned" : "frozen backbone")} · {m.SampleCount} test images, {c.Errors.All.Count} misclassified · accuracy {ReportText.Number(m.Accuracy)} · macro F1 {ReportText.Number(m.MacroF1)} · log-loss {ReportText.Number(m.LogLoss)}<br>")
            .Append(E(c.Timings.ToString())).Append(CultureInfo.InvariantCulture, $" · model {ReportText.Megabytes(c.ModelSizeBytes)} MB · peak memory {ReportText.Megabytes(c.PeakMemoryBytes)} MB</p>\n");
        if (c.Folds.Count > 1)
        {
            h.Append("<h3>Folds</h3><table><thead><tr><th>Fold</th><th>Train</th><th>Test</th><th>Accuracy</th><th>Precision</th><th>Recall</th><th>F1 (macro)</th><th>train s</th></tr></thead><tbody>");
            foreach (var f in c.Folds)
            {
                h.Append(CultureInfo.InvariantCulture, $"<tr><td>{f.Fold + 1}</td><td>{f.TrainCount}</td><td>{f.TestCount}</td><td>{ReportText.Number(f.Metrics.Accuracy)}</td><td>{ReportText.Number(f.Metrics.MacroPrecision)}</td><td>{ReportText.Number(f.Metrics.MacroRecall)}</td><td>{ReportText.Number(f.Metrics.MacroF1)}</td><td>{ReportText.Fixed(f.TrainingSeconds, 2)}</td></tr>");
            }

            h.Append("</tbody></table>\n");
        }

        h.Append("<div class=\"grid\"><div>");
        h.Append(CultureInfo.InvariantCulture, $"<h3>Worst {options.WorstClassCount} classes</h3><table><thead><tr><th class=\"text\">Class</th><th>F1</th><th>Precision</th><th>Recall</th><th>Support</th><th class=\"text\">Taken for</th></tr></thead><tbody>");
        foreach (var w in m.WorstClasses(options.WorstClassCount))
        {
            h.Append(CultureInfo.InvariantCulture, $"<tr><td class=\"text label\">{E(w.Label)}</td><td style=\"background:{Shade(w.F1)}\">{ReportText.Number(w.F1)}</td><td>{ReportText.Number(w.Precision)}</td><td>{ReportText.Number(w.Recall)}</td><td>{w.Support}</td><td class=\"text wrap\">{E(ReportText.TakenFor(c.Errors, w.Label))}</td></tr>");
        }

        h.Append("</tbody></table></div><div>");
        h.Append(CultureInfo.InvariantCulture, $"<h3>Most-confused pairs</h3>");
        if (c.Errors.MostConfusedPairs.Count == 0)
        {
            h.Append("<p class=\"note\">No misclassified images.</p>");
        }
        else
        {
            h.Append("<table><thead><tr><th class=\"text\">True</th><th class=\"text\">Taken for</th><th>Count</th><th class=\"text\">Most confident examples</th></tr></thead><tbody>");
            foreach (var p in c.Errors.MostConfusedPairs.Take(options.ConfusedPairCount))
            {
                h.Append(CultureInfo.InvariantCulture, $"<tr><td class=\"text label\">{E(p.TrueLabel)}</td><td class=\"text label\">{E(p.PredictedLabel)}</td><td>{p.Count}</td><td class=\"text\"><span class=\"ex\">");
                foreach (var e in c.Errors.ByClass[p.TrueLabel].Where(e => e.PredictedLabel == p.PredictedLabel).Take(3))
                {
                    var uri = options.EmbedImages ? thumbs.DataUri(e.Path) : null;
                    var tip = E($"{ReportText.DisplayPath(e.Path, result.DatasetRoot)}: {p.PredictedLabel} {ReportText.Percent(e.PredictedProbability)}, {p.TrueLabel} {ReportText.Percent(e.TrueLabelProbability)}");
                    h.Append(uri is null ? $"<span title=\"{tip}\">{ReportText.Percent(e.PredictedProbability)}</span>" : $"<img src=\"{uri}\" alt=\"{tip}\" title=\"{tip}\">");
                }

                h.Append("</span></td></tr>");
            }

            h.Append("</tbody></table>");
            if (c.Errors.MostConfusedPairs.Count > options.ConfusedPairCount)
            {
                h.Append(CultureInfo.InvariantCulture, $"<p class=\"note\">{c.Errors.MostConfusedPairs.Count - options.ConfusedPairCount} more pair(s) in the JSON report.</p>");
            }
        }

        h.Append("</div></div>\n");
        Heatmaps(h, c, index, orderHint, options);
        Gallery(h, result, c, options, thumbs);
        TopLosses(h, result, c, index, options, thumbs);
        h.Append(CultureInfo.InvariantCulture, $"<details><summary>Per-class metrics ({m.PerClass.Count} classes, sortable)</summary><div class=\"scroll\"><table class=\"sortable\"><thead><tr><th class=\"text\">Class</th><th>Precision</th><th>Recall</th><th>F1</th><th>Support</th><th>Predicted</th><th>Errors</th><th class=\"text\">Taken for</th></tr></thead><tbody>\n");
        foreach (var pc in m.PerClass)
        {
            var errors = c.Errors.ByClass.TryGetValue(pc.Label, out var list) ? list.Count : 0;
            h.Append(CultureInfo.InvariantCulture, $"<tr><td class=\"text\">{E(pc.Label)}</td><td>{ReportText.Number(pc.Precision)}</td><td>{ReportText.Number(pc.Recall)}</td><td style=\"background:{Shade(pc.F1)}\">{ReportText.Number(pc.F1)}</td><td>{pc.Support}</td><td>{pc.PredictedCount}</td><td>{errors}</td><td class=\"text\">{E(ReportText.TakenFor(c.Errors, pc.Label))}</td></tr>\n");
        }

        h.Append("</tbody></table></div></details>\n</section>\n");
    }

    private static void Heatmaps(StringBuilder h, ConfigurationResult c, int index, IReadOnlyList<string> orderHint, HtmlReportOptions options)
    {
        var matrix = c.Metrics.ConfusionMatrix;
        var order = orderHint.Count > 0 ? orderHint : ClassOrder.ByConfusion(matrix);
        var n = order.Count;
        var cell = n <= 20 ? 28 : n <= 50 ? 16 : 8;
        h.Append("<h3>Confusion matrix</h3>\n<p class=\"note\">Rows: true class; columns: predicted class; colour: share of the row's images (square-root scale, so that rare confusions show). ")
            .Append(E(OrderDescription(options, orderHint.Count > 0))).Append("</p>\n<div class=\"wide\">");
        var svg = Charts.ToSvg(Charts.Heatmap(matrix, order, $"Confusion matrix, {n} classes"), (n * cell) + 230, (n * cell) + 190, $"cm{index}");
        h.Append(n > 40 ? svg.Replace("class=\"chart\"", "class=\"chart native\"", StringComparison.Ordinal) : svg).Append("</div>\n");

        var errorsByClass = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var e in c.Errors.All)
        {
            errorsByClass[e.TrueLabel] = errorsByClass.GetValueOrDefault(e.TrueLabel) + 1;
            errorsByClass[e.PredictedLabel] = errorsByClass.GetValueOrDefault(e.PredictedLabel) + 1;
        }

        var focus = errorsByClass.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(options.FocusClassCount).Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
        if (focus.Count >= 2 && n > 2)
        {
            var focusOrder = order.Where(focus.Contains).ToArray();
            h.Append(CultureInfo.InvariantCulture, $"<h3>Most-confused block: the {focusOrder.Length} classes with the most errors</h3>\n<p class=\"note\">Counts of misclassified images (row: true class, column: what it was taken for). The grey diagonal holds the correct predictions, so the colours show errors only.</p>\n");
            var size = (focusOrder.Length * 34) + 230;
            h.Append(Charts.ToSvg(Charts.FocusedHeatmap(matrix, focusOrder, $"Errors among the {focusOrder.Length} most-confused classes"), size, size - 40, $"focus{index}")).Append('\n');
        }
    }

    private static void Gallery(StringBuilder h, ExperimentResult result, ConfigurationResult c, HtmlReportOptions options, Thumbnails thumbs)
    {
        h.Append("<h3>Misclassified images</h3>\n");
        if (c.Errors.All.Count == 0)
        {
            h.Append("<p class=\"note\">None.</p>\n");
            return;
        }

        if (!options.EmbedImages)
        {
            h.Append("<p class=\"note\">Thumbnails were turned off for this report (HtmlReportOptions.EmbedImages); the JSON report lists every misclassified image.</p>\n");
            return;
        }

        h.Append(CultureInfo.InvariantCulture, $"<p class=\"note\">Per true class, weakest class first, most confidently wrong first (at most {options.MaxImagesPerClass} per class and {options.MaxImagesPerConfiguration} in all). Caption: what it was taken for, with the model's probability; hover for the file and the probability of the true class.</p>\n");
        var shown = 0;
        var classesLeft = 0;
        var imagesLeft = 0;
        var byF1 = c.Metrics.WorstClasses(int.MaxValue).Select(x => x.Label).Where(c.Errors.ByClass.ContainsKey).ToArray();
        foreach (var label in byF1)
        {
            var errors = c.Errors.ByClass[label];
            if (shown >= options.MaxImagesPerConfiguration)
            {
                classesLeft++;
                imagesLeft += errors.Count;
                continue;
            }

            var metrics = c.Metrics.PerClass.First(x => x.Label == label);
            var take = Math.Min(Math.Min(errors.Count, options.MaxImagesPerClass), options.MaxImagesPerConfiguration - shown);
            h.Append(CultureInfo.InvariantCulture, $"<h4>{E(label)} <span class=\"meta\">F1 {ReportText.Number(metrics.F1)} · {errors.Count} of {metrics.Support} misclassified</span></h4><div class=\"gallery\">");
            foreach (var e in errors.Take(take))
            {
                var uri = thumbs.DataUri(e.Path);
                var path = ReportText.DisplayPath(e.Path, result.DatasetRoot);
                var tip = E($"{path} · true {label}: {ReportText.Percent(e.TrueLabelProbability)}");
                h.Append(CultureInfo.InvariantCulture, $"<figure title=\"{tip}\">");
                h.Append(uri is null ? "<div class=\"missing\">unavailable</div>" : $"<img src=\"{uri}\" alt=\"{tip}\">");
                h.Append(CultureInfo.InvariantCulture, $"<figcaption>→ <b>{E(e.PredictedLabel)}</b> {ReportText.Percent(e.PredictedProbability)}</figcaption></figure>");
            }

            h.Append("</div>");
            if (errors.Count > take)
            {
                h.Append(CultureInfo.InvariantCulture, $"<p class=\"note\">{errors.Count - take} more misclassified image(s) of {E(label)} not shown.</p>");
            }

            shown += take;
            h.Append('\n');
        }

        if (classesLeft > 0)
        {
            h.Append(CultureInfo.InvariantCulture, $"<p class=\"note\"><b>Gallery capped</b> at {options.MaxImagesPerConfiguration} images: {imagesLeft} misclassified image(s) of {classesLeft} further class(es) are not shown (the JSON report lists them all).</p>\n");
        }
    }

    private static void TopLosses(StringBuilder h, ExperimentResult result, ConfigurationResult c, int index, HtmlReportOptions options, Thumbnails thumbs)
    {
        h.Append(CultureInfo.InvariantCulture, $"<h3 id=\"top-losses-{index}\">Top losses</h3>\n");
        if (ReportText.TopLosses(result, c, options.TopLossCount) is not { } top)
        {
            h.Append("<p class=\"note\">This result kept no per-image predictions, so there are no top losses to show.</p>\n");
            return;
        }

        h.Append("<p class=\"note\">The most confident errors (wrong, and sure of it: mislabelled images, look-alike classes) and the least confident correct predictions (right, but barely). Caption: true → predicted, the model's probability for each, and the image's loss (−ln P(true)).</p>\n");
        List(CultureInfo.InvariantCulture, $"Most confident errors ({top.MostConfidentErrors.Count} of {top.ErrorCount})", "errors", top.MostConfidentErrors);
        List(CultureInfo.InvariantCulture, $"Least confident correct predictions ({top.LeastConfidentCorrect.Count} of {top.CorrectCount})", "correct", top.LeastConfidentCorrect);

        void List(IFormatProvider culture, string title, string kind, IReadOnlyList<TopLossImage> images)
        {
            h.Append(culture, $"<h4>{E(title)}</h4>");
            if (images.Count == 0)
            {
                h.Append("<p class=\"note\">None.</p>\n");
                return;
            }

            h.Append(culture, $"<div class=\"gallery top-losses\" data-kind=\"{kind}\">");
            foreach (var e in images)
            {
                var uri = options.EmbedImages ? thumbs.DataUri(e.Path) : null;
                var path = ReportText.DisplayPath(e.Path, result.DatasetRoot);
                var tip = E($"{path} · true {e.TrueLabel}: {ReportText.Percent(e.TrueLabelProbability)} · predicted {e.PredictedLabel}: {ReportText.Percent(e.PredictedProbability)} · loss {ReportText.Number(e.Loss)}");
                h.Append(culture, $"<figure title=\"{tip}\">");
                h.Append(uri is null ? $"<div class=\"missing\">{(options.EmbedImages ? "unavailable" : E(Path.GetFileName(e.Path)))}</div>" : $"<img src=\"{uri}\" alt=\"{tip}\">");
                h.Append(e.IsCorrect
                    ? $"<figcaption>{E(e.TrueLabel)} {ReportText.Percent(e.PredictedProbability)}<br>loss {ReportText.Fixed(e.Loss, 2)}</figcaption></figure>"
                    : $"<figcaption>{E(e.TrueLabel)} {ReportText.Percent(e.TrueLabelProbability)} → <b>{E(e.PredictedLabel)}</b> {ReportText.Percent(e.PredictedProbability)}<br>loss {ReportText.Fixed(e.Loss, 2)}</figcaption></figure>");
            }

            h.Append("</div>\n");
        }
    }

    private static void Skipped(StringBuilder h, ExperimentResult result)
    {
        h.Append(CultureInfo.InvariantCulture, $"<section id=\"skipped\"><h2>Skipped files ({result.Skipped.Count})</h2>\n");
        if (result.Skipped.Count == 0)
        {
            h.Append("<p class=\"note\">None: every file found was used.</p></section>\n");
            return;
        }

        h.Append("<div class=\"scroll\"><table class=\"sortable\"><thead><tr><th class=\"text\">File</th><th class=\"text\">Class</th><th class=\"text\">Reason</th><th class=\"text\">Detail</th></tr></thead><tbody>\n");
        foreach (var s in result.Skipped)
        {
            h.Append(CultureInfo.InvariantCulture, $"<tr><td class=\"text\">{E(ReportText.DisplayPath(s.Path, result.DatasetRoot))}</td><td class=\"text\">{E(s.Label ?? "-")}</td><td class=\"text\">{s.Reason}</td><td class=\"text\">{E(s.Detail)}</td></tr>\n");
        }

        h.Append("</tbody></table></div></section>\n");
    }

    private static void Help(StringBuilder h, ExperimentResult result, HtmlReportOptions options)
    {
        h.Append("<section id=\"help\"><h2>How to read this report</h2><ul class=\"note\">");
        h.Append("<li><b>Comparison</b>: precision, recall and F1 are averaged over classes (macro), as in the study; accuracy and top-5 count images. ");
        h.Append(result.FoldCount > 1 ? "With k-fold, each cell is mean ± standard deviation over folds; a margin smaller than the deviation is not a clear win. " : "With a single split, differences of a few hundredths can be noise; use k-fold to see the spread. ");
        h.Append("train s is the head's fitting time; ms/img is the end-to-end time to classify one image file without the cache.</li>");
        h.Append("<li><b>Confusion matrix</b>: a dark diagonal is good; dark cells off the diagonal are confusions. ").Append(E(OrderDescription(options, options.ClassOrder is not null)))
            .Append(" The focused block zooms on the classes with the most errors and writes the counts.</li>");
        h.Append("<li><b>Misclassified images</b>: for the weakest classes first, what each image was taken for and how sure the model was; a confident mistake between similar-looking classes (an evolution line) is a different problem from a random one.</li>");
        h.Append("<li>Definitions of every metric: docs/metrics.md; how this report is built: docs/reports.md.</li></ul></section>\n");
    }

    private static IReadOnlyList<string> HeatmapOrder(ExperimentResult result, HtmlReportOptions options)
    {
        if (options.ClassOrder is { } explicitOrder)
        {
            return ClassOrder.Apply(explicitOrder, result.Classes);
        }

        return options.Ordering == ClassOrdering.ClassList ? result.Classes : [];
    }

    private static string OrderDescription(HtmlReportOptions options, bool explicitOrder) => explicitOrder
        ? "Classes are in the order given (for the Pokémon datasets: Pokédex number, so evolution lines sit together)."
        : options.Ordering == ClassOrdering.ClassList
            ? "Classes are in class-list order."
            : "Classes are ordered by clustering the confusions, so classes mistaken for each other sit side by side (confused groups first).";

    private static string Shade(double f1)
    {
        // Red (0) to white (1), so weak classes stand out.
        var t = Math.Clamp(f1, 0, 1);
        var g = (int)Math.Round(200 + (55 * t));
        var b = (int)Math.Round(190 + (65 * t));
        return t >= 0.999 ? "#ffffff" : string.Create(CultureInfo.InvariantCulture, $"rgb(255,{g},{b})");
    }

    private static int IndexOf(IReadOnlyList<ConfigurationResult> list, ConfigurationResult item)
    {
        for (var i = 0; i < list.Count; i++)
        {
            if (ReferenceEquals(list[i], item))
            {
                return i;
            }
        }

        return -1;
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
