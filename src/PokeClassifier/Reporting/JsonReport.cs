using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using PokeClassifier.Evaluation;
using PokeClassifier.Experiments;

namespace PokeClassifier.Reporting;

/// <summary>
/// Writes the JSON report with System.Text.Json's writer: camelCase names that do not change between versions of the same
/// <c>formatVersion</c>, doubles in their shortest round-trippable form, and every wall-clock measurement under a
/// <c>measurements</c> object so that a comparison of two runs can leave them out.
/// </summary>
internal static class JsonReport
{
    public const int FormatVersion = 1;

    public static string Build(ExperimentResult result)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteNumber("formatVersion", FormatVersion);
            w.WriteString("dataset", result.Dataset);
            w.WriteString("datasetRoot", result.DatasetRoot);
            w.WriteString("protocol", result.Protocol);
            w.WriteNumber("folds", result.FoldCount);
            w.WriteNumber("seed", result.Seed);
            w.WriteStartArray("classes");
            foreach (var c in result.Classes)
            {
                w.WriteStringValue(c);
            }

            w.WriteEndArray();
            w.WriteString("best", result.Best?.Name);
            w.WriteStartArray("configurations");
            foreach (var c in result.Configurations)
            {
                WriteConfiguration(w, result, c);
            }

            w.WriteEndArray();
            w.WriteStartArray("skipped");
            foreach (var s in result.Skipped)
            {
                w.WriteStartObject();
                w.WriteString("path", s.Path);
                w.WriteString("label", s.Label);
                w.WriteString("reason", s.Reason.ToString());
                w.WriteString("detail", s.Detail);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartObject("measurements");
            w.WriteNumber("totalSeconds", result.TotalSeconds);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    private static void WriteConfiguration(Utf8JsonWriter w, ExperimentResult result, ConfigurationResult c)
    {
        w.WriteStartObject();
        w.WriteString("name", c.Name);
        w.WriteString("backbone", c.Backbone);
        w.WriteString("head", c.Head);
        w.WriteString("trainingPath", c.TrainingPath);
        w.WriteBoolean("fineTuned", c.FineTuned);
        w.WritePropertyName("metrics");
        WriteMetrics(w, c.Metrics, perClass: true);
        if (c.CrossValidation is { } cv)
        {
            w.WriteStartObject("crossValidation");
            w.WriteNumber("folds", cv.Folds);
            Spread(w, "accuracy", cv.Accuracy);
            Spread(w, "macroPrecision", cv.MacroPrecision);
            Spread(w, "macroRecall", cv.MacroRecall);
            Spread(w, "macroF1", cv.MacroF1);
            if (cv.Top5Accuracy is { } t5)
            {
                Spread(w, "top5Accuracy", t5);
            }

            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("crossValidation");
        }

        w.WriteStartArray("folds");
        foreach (var f in c.Folds)
        {
            w.WriteStartObject();
            w.WriteNumber("fold", f.Fold);
            w.WriteNumber("train", f.TrainCount);
            w.WriteNumber("test", f.TestCount);
            w.WritePropertyName("metrics");
            WriteMetrics(w, f.Metrics, perClass: false);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartObject("errors");
        w.WriteNumber("count", c.Errors.All.Count);
        w.WriteStartArray("mostConfusedPairs");
        foreach (var p in c.Errors.MostConfusedPairs)
        {
            w.WriteStartObject();
            w.WriteString("true", p.TrueLabel);
            w.WriteString("predicted", p.PredictedLabel);
            w.WriteNumber("count", p.Count);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartArray("misclassified");
        foreach (var e in c.Errors.All)
        {
            w.WriteStartObject();
            w.WriteString("path", e.Path);
            w.WriteString("true", e.TrueLabel);
            w.WriteString("predicted", e.PredictedLabel);
            w.WriteNumber("predictedProbability", e.PredictedProbability);
            w.WriteNumber("trueProbability", e.TrueLabelProbability);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
        TopLosses(w, result, c);
        w.WriteStartArray("trainingHistory");
        foreach (var e in c.TrainingHistory)
        {
            w.WriteStartObject();
            w.WriteNumber("epoch", e.Epoch);
            NullableNumber(w, "trainLoss", e.TrainLoss);
            NullableNumber(w, "trainAccuracy", e.TrainAccuracy);
            NullableNumber(w, "validationLoss", e.ValidationLoss);
            NullableNumber(w, "validationAccuracy", e.ValidationAccuracy);
            w.WriteNumber("learningRate", e.LearningRate);
            w.WriteNumber("seconds", e.Seconds);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteStartObject("measurements");
        w.WriteNumber("featurizationSeconds", c.Timings.FeaturizationSeconds);
        w.WriteNumber("trainingSeconds", c.Timings.TrainingSeconds);
        w.WriteNumber("predictionMillisecondsPerImage", c.Timings.PredictionMillisecondsPerImage);
        w.WriteNumber("featuresComputed", c.Timings.FeaturesComputed);
        w.WriteNumber("featuresFromCache", c.Timings.FeaturesFromCache);
        w.WriteNumber("modelSizeBytes", c.ModelSizeBytes);
        w.WriteNumber("peakMemoryBytes", c.PeakMemoryBytes);
        w.WriteStartArray("foldTrainingSeconds");
        foreach (var f in c.Folds)
        {
            w.WriteNumberValue(f.TrainingSeconds);
        }

        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteMetrics(Utf8JsonWriter w, MetricReport m, bool perClass)
    {
        w.WriteStartObject();
        w.WriteNumber("samples", m.SampleCount);
        w.WriteNumber("accuracy", m.Accuracy);
        w.WriteNumber("macroPrecision", m.MacroPrecision);
        w.WriteNumber("macroRecall", m.MacroRecall);
        w.WriteNumber("macroF1", m.MacroF1);
        w.WriteNumber("weightedPrecision", m.WeightedPrecision);
        w.WriteNumber("weightedRecall", m.WeightedRecall);
        w.WriteNumber("weightedF1", m.WeightedF1);
        w.WriteNumber("logLoss", m.LogLoss);
        w.WriteStartObject("topKAccuracy");
        foreach (var (k, v) in m.TopKAccuracy)
        {
            w.WriteNumber(k.ToString(System.Globalization.CultureInfo.InvariantCulture), v);
        }

        w.WriteEndObject();
        if (perClass)
        {
            w.WriteStartArray("perClass");
            foreach (var c in m.PerClass)
            {
                w.WriteStartObject();
                w.WriteString("label", c.Label);
                w.WriteNumber("precision", c.Precision);
                w.WriteNumber("recall", c.Recall);
                w.WriteNumber("f1", c.F1);
                w.WriteNumber("support", c.Support);
                w.WriteNumber("predicted", c.PredictedCount);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartArray("confusionMatrix");
            var n = m.ConfusionMatrix.Labels.Count;
            for (var i = 0; i < n; i++)
            {
                w.WriteStartArray();
                for (var j = 0; j < n; j++)
                {
                    w.WriteNumberValue(m.ConfusionMatrix[i, j]);
                }

                w.WriteEndArray();
            }

            w.WriteEndArray();
        }

        w.WriteEndObject();
    }

    private static void TopLosses(Utf8JsonWriter w, ExperimentResult result, ConfigurationResult c)
    {
        if (ReportText.TopLosses(result, c, ReportText.TopLossCount) is not { } top)
        {
            w.WriteNull("topLosses");
            return;
        }

        w.WriteStartObject("topLosses");
        w.WriteNumber("errorCount", top.ErrorCount);
        w.WriteNumber("correctCount", top.CorrectCount);
        foreach (var (name, images) in new[] { ("mostConfidentErrors", top.MostConfidentErrors), ("leastConfidentCorrect", top.LeastConfidentCorrect) })
        {
            w.WriteStartArray(name);
            foreach (var e in images)
            {
                w.WriteStartObject();
                w.WriteString("path", e.Path);
                w.WriteString("true", e.TrueLabel);
                w.WriteString("predicted", e.PredictedLabel);
                w.WriteNumber("predictedProbability", e.PredictedProbability);
                w.WriteNumber("trueProbability", e.TrueLabelProbability);
                w.WriteNumber("loss", e.Loss);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        w.WriteEndObject();
    }

    private static void Spread(Utf8JsonWriter w, string name, MetricSpread s)
    {
        w.WriteStartObject(name);
        w.WriteNumber("mean", s.Mean);
        w.WriteNumber("standardDeviation", s.StandardDeviation);
        w.WriteEndObject();
    }

    /// <summary>A number, or null when there is none or it is not finite (a diverged training run has NaN losses; JSON has no NaN).</summary>
    private static void NullableNumber(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v))
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
