using System.Globalization;
using OxyPlot;
using OxyPlot.Annotations;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;
using PokeClassifier.Evaluation;
using PokeClassifier.Experiments;
using PokeClassifier.Training.LearningRate;

namespace PokeClassifier.Reporting;

/// <summary>The report's charts as OxyPlot models, exported to inline SVG (OxyPlot's own text metrics, so the output is deterministic).</summary>
internal static class Charts
{
    // OxyPlot measures text with Helvetica metrics; Arial and Liberation Sans share them, so labels fit where they are drawn.
    private const string Font = "Arial, Helvetica, 'Liberation Sans', sans-serif";

    private static readonly OxyColor[] SeriesColors =
    [
        OxyColor.FromRgb(0x1f, 0x77, 0xb4), OxyColor.FromRgb(0xff, 0x7f, 0x0e), OxyColor.FromRgb(0x2c, 0xa0, 0x2c), OxyColor.FromRgb(0xd6, 0x27, 0x28),
        OxyColor.FromRgb(0x94, 0x67, 0xbd), OxyColor.FromRgb(0x8c, 0x56, 0x4b), OxyColor.FromRgb(0xe3, 0x77, 0xc2), OxyColor.FromRgb(0x7f, 0x7f, 0x7f),
    ];

    /// <summary>Exports <paramref name="model"/> as an inline SVG element whose ids start with <paramref name="id"/>.</summary>
    /// <remarks>OxyPlot numbers its clip paths from 1 in every SVG; inline in one page, ids are global, so each chart gets its own prefix.</remarks>
    public static string ToSvg(PlotModel model, double width, double height, string id)
    {
        var svg = SvgExporter.ExportToString(model, width, height, isDocument: false)
            .Replace("id=\"clipPath", $"id=\"{id}-clipPath", StringComparison.Ordinal)
            .Replace("url(#clipPath", $"url(#{id}-clipPath", StringComparison.Ordinal);
        // Responsive: keep the drawing's coordinates but let CSS size it.
        var open = svg.IndexOf("<svg", StringComparison.Ordinal);
        return open < 0 ? svg : svg[open..].Replace("<svg ", string.Create(CultureInfo.InvariantCulture, $"<svg viewBox=\"0 0 {width:0} {height:0}\" class=\"chart\" "), StringComparison.Ordinal);
    }

    /// <summary>Horizontal bars: macro precision, recall, F1 and accuracy per configuration, with ± one standard deviation for k-fold.</summary>
    public static PlotModel Metrics(ExperimentResult result)
    {
        var model = NewModel(result.FoldCount > 1 ? "Macro precision, recall, F1 and accuracy (mean over folds, bars ± 1 sd)" : "Macro precision, recall, F1 and accuracy per configuration");
        var names = result.Configurations.Select(c => c.Name).ToArray();
        model.PlotMargins = new OxyThickness(LabelWidth(names, 11), double.NaN, double.NaN, double.NaN);
        model.Axes.Add(new CategoryAxis { Position = AxisPosition.Left, ItemsSource = names, StartPosition = 1, EndPosition = 0, GapWidth = 0.4 });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Minimum = 0, Maximum = 1, MajorStep = 0.1, MajorGridlineStyle = LineStyle.Dot, Title = "score (0 to 1)" });
        var metrics = new (string Title, Func<ConfigurationResult, double> Value, Func<CrossValidationSummary, MetricSpread?> Spread)[]
        {
            ("Precision", c => c.Metrics.MacroPrecision, s => s.MacroPrecision),
            ("Recall", c => c.Metrics.MacroRecall, s => s.MacroRecall),
            ("F1", c => c.Metrics.MacroF1, s => s.MacroF1),
            ("Accuracy", c => c.Metrics.Accuracy, s => s.Accuracy),
        };
        for (var m = 0; m < metrics.Length; m++)
        {
            var kfold = result.Configurations.Any(c => c.CrossValidation is not null);
            var series = new ErrorBarSeries { Title = metrics[m].Title, FillColor = SeriesColors[m], LabelFormatString = "{0:0.000}", LabelPlacement = LabelPlacement.Inside, TextColor = OxyColors.White, FontSize = 10, ErrorStrokeThickness = kfold ? 1.5 : 0 };
            foreach (var c in result.Configurations)
            {
                var spread = c.CrossValidation is null ? null : metrics[m].Spread(c.CrossValidation);
                series.Items.Add(new ErrorBarItem(spread?.Mean ?? metrics[m].Value(c), spread?.StandardDeviation ?? 0));
            }

            model.Series.Add(series);
        }

        AddLegend(model, LegendPosition.RightTop, LegendOrientation.Vertical);
        return model;
    }

    /// <summary>
    /// The learning-rate range test: smoothed loss (solid) and raw batch loss (faint) against the rate on a log axis, the suggested
    /// rate (steepest descent) and a tenth of the lowest-loss rate marked by vertical lines. <paramref name="document"/>: a standalone
    /// SVG file (with its XML declaration), else an inline element for the HTML report.
    /// </summary>
    public static string LearningRateSvg(LearningRateFinderResult result, double width, double height, bool document)
    {
        var model = NewModel("Learning-rate finder: loss against learning rate");
        model.Axes.Add(new LogarithmicAxis { Position = AxisPosition.Bottom, Title = "learning rate (log scale)", MajorGridlineStyle = LineStyle.Dot, StringFormat = "0.#e+0" });
        var finite = result.SmoothedLosses.Concat(result.Losses).Where(double.IsFinite).ToArray();
        var low = result.SmoothedLosses.Where(double.IsFinite).DefaultIfEmpty(0).Min();
        // The blow-up at the end would flatten the interesting part: clip the axis at 4x the lowest smoothed loss.
        var high = Math.Min(finite.DefaultIfEmpty(1).Max(), Math.Max(low * 4, low + 1e-3));
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = "training loss", MajorGridlineStyle = LineStyle.Dot, Minimum = Math.Max(0, Math.Min(low, finite.DefaultIfEmpty(0).Min()) * 0.95), Maximum = high * 1.02 });
        var raw = new LineSeries { Title = "batch loss", Color = OxyColor.FromAColor(90, SeriesColors[0]), StrokeThickness = 1 };
        var smooth = new LineSeries { Title = "smoothed loss", Color = SeriesColors[0], StrokeThickness = 2.2 };
        for (var i = 0; i < result.Rates.Count; i++)
        {
            if (double.IsFinite(result.Losses[i]))
            {
                raw.Points.Add(new DataPoint(result.Rates[i], result.Losses[i]));
            }

            if (double.IsFinite(result.SmoothedLosses[i]))
            {
                smooth.Points.Add(new DataPoint(result.Rates[i], result.SmoothedLosses[i]));
            }
        }

        model.Series.Add(raw);
        model.Series.Add(smooth);
        Mark(model, result.SuggestedLearningRate, SeriesColors[3], LineStyle.Solid, $"suggested {LearningRateFinderResult.Rate(result.SuggestedLearningRate)}");
        Mark(model, result.MinimumLossLearningRate, SeriesColors[2], LineStyle.Dash, $"lowest loss / 10: {LearningRateFinderResult.Rate(result.MinimumLossLearningRate)}");
        AddLegend(model, LegendPosition.LeftTop, LegendOrientation.Vertical);
        if (document)
        {
            return SvgExporter.ExportToString(model, width, height, isDocument: true);
        }

        return ToSvg(model, width, height, "lr-find");

        static void Mark(PlotModel model, double rate, OxyColor colour, LineStyle style, string text) =>
            model.Annotations.Add(new LineAnnotation { Type = LineAnnotationType.Vertical, X = rate, Color = colour, LineStyle = style, StrokeThickness = 1.5, Text = text, TextColor = colour, FontSize = 10, TextOrientation = AnnotationTextOrientation.Vertical });
    }

    /// <summary>Horizontal bars of one cost per configuration.</summary>
    public static PlotModel Cost(ExperimentResult result, string title, string unit, Func<ConfigurationResult, double> value, int colour)
    {
        var model = NewModel(title);
        var names = result.Configurations.Select(c => c.Name).ToArray();
        model.PlotMargins = new OxyThickness(LabelWidth(names, 11), double.NaN, double.NaN, double.NaN);
        model.Axes.Add(new CategoryAxis { Position = AxisPosition.Left, ItemsSource = names, StartPosition = 1, EndPosition = 0, GapWidth = 0.4 });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Minimum = 0, MaximumPadding = 0.15, MajorGridlineStyle = LineStyle.Dot, Title = unit });
        var series = new BarSeries { FillColor = SeriesColors[colour % SeriesColors.Length], LabelFormatString = "{0:0.##}", LabelPlacement = LabelPlacement.Outside, FontSize = 10 };
        foreach (var c in result.Configurations)
        {
            series.Items.Add(new BarItem(value(c)));
        }

        model.Series.Add(series);
        return model;
    }

    /// <summary>Loss, accuracy or learning rate per epoch for every configuration that has a history.</summary>
    public static PlotModel Curves(ExperimentResult result, string title, string axisTitle, Func<Training.EpochRecord, double?> train, Func<Training.EpochRecord, double?>? validation, bool logarithmic = false)
    {
        var model = NewModel(title);
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, Title = "epoch", MajorStep = 1, MinimumMajorStep = 1, MajorGridlineStyle = LineStyle.Dot });
        model.Axes.Add(logarithmic
            ? new LogarithmicAxis { Position = AxisPosition.Left, Title = axisTitle, MajorGridlineStyle = LineStyle.Dot }
            : new LinearAxis { Position = AxisPosition.Left, Title = axisTitle, MajorGridlineStyle = LineStyle.Dot });
        var colour = 0;
        foreach (var c in result.Configurations.Where(c => c.TrainingHistory.Count > 0))
        {
            var col = SeriesColors[colour++ % SeriesColors.Length];
            AddLine(model, $"{c.Name} (train)", col, LineStyle.Solid, c.TrainingHistory.Select(e => (e.Epoch, train(e))));
            if (validation is not null && c.TrainingHistory.Any(e => validation(e) is not null))
            {
                AddLine(model, $"{c.Name} (validation)", col, LineStyle.Dash, c.TrainingHistory.Select(e => (e.Epoch, validation(e))));
            }
        }

        AddLegend(model, LegendPosition.RightTop, LegendOrientation.Vertical);
        return model;
    }

    /// <summary>
    /// The confusion matrix as a heatmap: rows are true classes, columns predicted, in <paramref name="order"/>. Each cell is the
    /// share of the row's images, coloured on a square-root scale so that rare confusions still show next to the full diagonal.
    /// </summary>
    public static PlotModel Heatmap(ConfusionMatrix matrix, IReadOnlyList<string> order, string title)
    {
        var n = order.Count;
        var index = order.Select(l => IndexOf(matrix, l)).ToArray();
        var data = new double[n, n];
        for (var r = 0; r < n; r++)
        {
            double row = 0;
            for (var c = 0; c < n; c++)
            {
                row += matrix[index[r], index[c]];
            }

            for (var c = 0; c < n; c++)
            {
                data[c, r] = row > 0 ? matrix[index[r], index[c]] / row : 0;
            }
        }

        var model = NewModel(title);
        var fontSize = n <= 30 ? 10 : n <= 80 ? 8 : 6.5;
        var labelWidth = LabelWidth(order, fontSize) + 20;
        model.PlotMargins = new OxyThickness(labelWidth, double.NaN, double.NaN, labelWidth);
        model.Axes.Add(new LinearColorAxis { Position = AxisPosition.Right, Palette = SqrtPalette(), Minimum = 0, Maximum = 1, Title = "share of the true class", MajorStep = 0.25, FontSize = 9 });
        model.Axes.Add(LabelAxis(AxisPosition.Bottom, "predicted class", order, fontSize, angle: -90));
        model.Axes.Add(LabelAxis(AxisPosition.Left, "true class", order, fontSize, angle: 0));
        model.Series.Add(new HeatMapSeries
        {
            X0 = 0, X1 = n - 1, Y0 = 0, Y1 = n - 1, Data = data, Interpolate = false,
            CoordinateDefinition = HeatMapCoordinateDefinition.Center,
            RenderMethod = n <= 40 ? HeatMapRenderMethod.Rectangles : HeatMapRenderMethod.Bitmap,
        });
        return model;
    }

    /// <summary>
    /// The errors among <paramref name="order"/>: each off-diagonal cell is the number of images of the row's class predicted as the
    /// column's, written in the cell; the diagonal (correct predictions) is grey with its count, so the colours show errors only.
    /// </summary>
    public static PlotModel FocusedHeatmap(ConfusionMatrix matrix, IReadOnlyList<string> order, string title)
    {
        var n = order.Count;
        var index = order.Select(l => IndexOf(matrix, l)).ToArray();
        var data = new double[n, n];
        var max = 1.0;
        var model = NewModel(title);
        for (var r = 0; r < n; r++)
        {
            for (var c = 0; c < n; c++)
            {
                var count = matrix[index[r], index[c]];
                data[c, r] = r == c ? double.NaN : count;
                if (r != c)
                {
                    max = Math.Max(max, count);
                }

                if (count > 0)
                {
                    model.Annotations.Add(new TextAnnotation
                    {
                        Text = count.ToString(CultureInfo.InvariantCulture),
                        TextPosition = new DataPoint(c, r),
                        TextHorizontalAlignment = HorizontalAlignment.Center,
                        TextVerticalAlignment = VerticalAlignment.Middle,
                        Stroke = OxyColors.Transparent,
                        FontSize = 9,
                        TextColor = r == c ? OxyColor.FromRgb(0x55, 0x55, 0x55) : count > max * 0.55 ? OxyColors.White : OxyColors.Black,
                    });
                }
            }
        }

        foreach (var a in model.Annotations.OfType<TextAnnotation>())
        {
            var (r, c) = ((int)a.TextPosition.Y, (int)a.TextPosition.X);
            if (r != c)
            {
                a.TextColor = matrix[index[r], index[c]] > max * 0.55 ? OxyColors.White : OxyColors.Black;
            }
        }

        model.Axes.Add(new LinearColorAxis
        {
            Position = AxisPosition.Right, Palette = OxyPalette.Interpolate(200, OxyColors.White, OxyColor.FromRgb(0xfd, 0xae, 0x61), OxyColor.FromRgb(0xd7, 0x30, 0x27), OxyColor.FromRgb(0x67, 0x00, 0x1f)),
            Minimum = 0, Maximum = max, MajorStep = Math.Max(1, Math.Ceiling(max / 6)), MinorStep = 1, Title = "misclassified images", InvalidNumberColor = OxyColor.FromRgb(0xe4, 0xe4, 0xe4), FontSize = 9,
        });
        var labelWidth = LabelWidth(order, 10) + 20;
        model.PlotMargins = new OxyThickness(labelWidth, double.NaN, double.NaN, labelWidth);
        model.Axes.Add(LabelAxis(AxisPosition.Bottom, "predicted class", order, 10, angle: -90));
        model.Axes.Add(LabelAxis(AxisPosition.Left, "true class", order, 10, angle: 0));
        model.Series.Add(new HeatMapSeries
        {
            X0 = 0, X1 = n - 1, Y0 = 0, Y1 = n - 1, Data = data, Interpolate = false,
            CoordinateDefinition = HeatMapCoordinateDefinition.Center, RenderMethod = HeatMapRenderMethod.Rectangles,
        });
        return model;
    }

    /// <summary>Room for the longest label at <paramref name="fontSize"/> (Helvetica averages about 0.6 em per character).</summary>
    private static double LabelWidth(IEnumerable<string> labels, double fontSize) => (labels.DefaultIfEmpty(string.Empty).Max(l => l.Length) * fontSize * 0.62) + 16;

    private static PlotModel NewModel(string title) => new()
    {
        Title = title,
        TitleFontSize = 13,
        TitleFontWeight = FontWeights.Bold,
        DefaultFont = Font,
        DefaultFontSize = 11,
        Background = OxyColors.White,
        PlotAreaBorderColor = OxyColor.FromRgb(0x99, 0x99, 0x99),
    };

    private static void AddLegend(PlotModel model, LegendPosition position, LegendOrientation orientation) => model.Legends.Add(new Legend
    {
        LegendPosition = position,
        LegendPlacement = LegendPlacement.Outside,
        LegendOrientation = orientation,
        LegendFontSize = 10,
        LegendPadding = 8,
        LegendSymbolLength = 14,
    });

    private static void AddLine(PlotModel model, string title, OxyColor colour, LineStyle style, IEnumerable<(int Epoch, double? Value)> points)
    {
        var line = new LineSeries { Title = title, Color = colour, LineStyle = style, StrokeThickness = 2, MarkerType = MarkerType.Circle, MarkerSize = 3, MarkerFill = colour };
        foreach (var (epoch, value) in points)
        {
            if (value is { } v && double.IsFinite(v))
            {
                line.Points.Add(new DataPoint(epoch, v));
            }
        }

        model.Series.Add(line);
    }

    private static LinearAxis LabelAxis(AxisPosition position, string title, IReadOnlyList<string> labels, double fontSize, double angle)
    {
        var n = labels.Count;
        return new LinearAxis
        {
            Position = position,
            Title = title,
            Minimum = -0.5,
            Maximum = n - 0.5,
            MajorStep = 1,
            MinorStep = 1,
            FontSize = fontSize,
            Angle = angle,
            TickStyle = TickStyle.None,
            MajorGridlineStyle = LineStyle.None,
            AxisTitleDistance = 10,
            StartPosition = position == AxisPosition.Left ? 1 : 0,
            EndPosition = position == AxisPosition.Left ? 0 : 1,
            LabelFormatter = v =>
            {
                var i = (int)Math.Round(v);
                return Math.Abs(v - i) < 1e-6 && i >= 0 && i < n ? labels[i] : string.Empty;
            },
        };
    }

    /// <summary>White to dark blue, with colour index = sqrt(value) so that small shares are visible.</summary>
    private static OxyPalette SqrtPalette()
    {
        var stops = OxyPalette.Interpolate(256, OxyColors.White, OxyColor.FromRgb(0xc6, 0xdb, 0xef), OxyColor.FromRgb(0x6b, 0xae, 0xd6), OxyColor.FromRgb(0x21, 0x71, 0xb5), OxyColor.FromRgb(0x08, 0x30, 0x6b));
        return new OxyPalette(Enumerable.Range(0, 256).Select(i => stops.Colors[(int)Math.Round(Math.Sqrt(i / 255.0) * 255)]));
    }

    private static int IndexOf(ConfusionMatrix matrix, string label)
    {
        for (var i = 0; i < matrix.Labels.Count; i++)
        {
            if (string.Equals(matrix.Labels[i], label, StringComparison.Ordinal))
            {
                return i;
            }
        }

        throw new ArgumentException($"'{label}' is not a class of the confusion matrix.", nameof(label));
    }
}
