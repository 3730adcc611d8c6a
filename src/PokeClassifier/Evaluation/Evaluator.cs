using System.Collections.ObjectModel;
using System.Globalization;
using System.Text;

namespace PokeClassifier.Evaluation;

/// <summary>
/// Computes metric and error reports from predictions. Pure and deterministic: the same inputs give the same
/// report, and nothing is mutated. Definitions are in <c>docs/metrics.md</c>.
/// </summary>
public static class Evaluator
{
    /// <summary>The floor applied to the true label's probability before taking its log, so a 0 costs 15 ln 10, not infinity.</summary>
    private const double ProbabilityFloor = 1e-15;

    /// <summary>Validation lists at most this many problems, so a badly wrong input does not yield a megabyte message.</summary>
    private const int MaxListedProblems = 20;

    private static readonly int[] DefaultTopK = [1, 3, 5];

    /// <summary>Computes accuracy, macro and weighted precision/recall/F1, per-class metrics, the confusion matrix, top-k accuracy and log-loss.</summary>
    /// <param name="classLabels">The class labels, distinct (ordinal comparison); the order of every prediction's probabilities.</param>
    /// <param name="predictions">The predictions to evaluate; at least one.</param>
    /// <param name="topK">
    /// The k values for <see cref="MetricReport.TopKAccuracy"/>, each at least 1; values greater than the class count
    /// are left out, duplicates are merged. The default is 1, 3 and 5.
    /// </param>
    /// <returns>The metric report.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value in <paramref name="topK"/> is less than 1.</exception>
    /// <exception cref="ArgumentException">
    /// The class list is empty or holds a duplicate label, the prediction list is empty, or a prediction has a label
    /// not in the class list or a probability list of the wrong length. One exception lists every problem found.
    /// </exception>
    public static MetricReport ComputeMetrics(IReadOnlyList<string> classLabels, IReadOnlyList<Prediction> predictions, IReadOnlyList<int>? topK = null)
    {
        var kValues = ResolveTopK(topK, classLabels);
        var (labels, trueIndexes, predictedIndexes) = Validate(classLabels, predictions);
        var classCount = labels.Length;
        var sampleCount = predictions.Count;

        var counts = new int[classCount * classCount];
        var correct = 0;
        var logLossSum = 0.0;
        var topKHits = new int[kValues.Length];
        for (var i = 0; i < sampleCount; i++)
        {
            var truth = trueIndexes[i];
            var predicted = predictedIndexes[i];
            counts[(truth * classCount) + predicted]++;
            if (truth == predicted)
            {
                correct++;
            }

            var probabilities = predictions[i].Probabilities;
            logLossSum -= Math.Log(Math.Max(probabilities[truth], ProbabilityFloor));

            var rank = RankOfTrueLabel(probabilities, truth);
            for (var k = 0; k < kValues.Length; k++)
            {
                if (rank < kValues[k])
                {
                    topKHits[k]++;
                }
            }
        }

        var perClass = new ClassMetrics[classCount];
        for (var c = 0; c < classCount; c++)
        {
            var truePositives = counts[(c * classCount) + c];
            var support = 0;
            var predictedCount = 0;
            for (var other = 0; other < classCount; other++)
            {
                support += counts[(c * classCount) + other];
                predictedCount += counts[(other * classCount) + c];
            }

            var precision = predictedCount > 0 ? (double)truePositives / predictedCount : 0.0;
            var recall = support > 0 ? (double)truePositives / support : 0.0;
            perClass[c] = new ClassMetrics
            {
                Label = labels[c],
                Precision = precision,
                Recall = recall,
                F1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0,
                Support = support,
                PredictedCount = predictedCount,
            };
        }

        // Macro averages run over the labels present in y_true or y_pred (scikit-learn's default), so a class that is
        // in the list but absent from this evaluation set neither drags the mean down nor props it up.
        var present = perClass.Where(metrics => metrics.Support > 0 || metrics.PredictedCount > 0).ToArray();

        var topKAccuracy = new OrderedDictionary<int, double>(kValues.Length);
        for (var k = 0; k < kValues.Length; k++)
        {
            topKAccuracy.Add(kValues[k], (double)topKHits[k] / sampleCount);
        }

        return new MetricReport
        {
            Accuracy = (double)correct / sampleCount,
            MacroPrecision = present.Average(metrics => metrics.Precision),
            MacroRecall = present.Average(metrics => metrics.Recall),
            MacroF1 = present.Average(metrics => metrics.F1),
            WeightedPrecision = perClass.Sum(metrics => metrics.Precision * metrics.Support) / sampleCount,
            WeightedRecall = perClass.Sum(metrics => metrics.Recall * metrics.Support) / sampleCount,
            WeightedF1 = perClass.Sum(metrics => metrics.F1 * metrics.Support) / sampleCount,
            PerClass = Array.AsReadOnly(perClass),
            ConfusionMatrix = new ConfusionMatrix(labels, counts),
            TopKAccuracy = new ReadOnlyDictionary<int, double>(topKAccuracy),
            LogLoss = logLossSum / sampleCount,
            SampleCount = sampleCount,
            ClassCount = classCount,
        };
    }

    /// <summary>Lists the misclassified images by true class, most confidently wrong first, and ranks the most confused class pairs.</summary>
    /// <param name="classLabels">The class labels, distinct (ordinal comparison); the order of every prediction's probabilities.</param>
    /// <param name="predictions">The predictions to examine; at least one.</param>
    /// <returns>The error report; its <see cref="ErrorReport.ByClass"/> enumerates classes in class-list order.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ArgumentException">
    /// The class list is empty or holds a duplicate label, the prediction list is empty, or a prediction has a label
    /// not in the class list or a probability list of the wrong length. One exception lists every problem found.
    /// </exception>
    public static ErrorReport ComputeErrors(IReadOnlyList<string> classLabels, IReadOnlyList<Prediction> predictions)
    {
        var (_, trueIndexes, predictedIndexes) = Validate(classLabels, predictions);
        var misclassified = new List<(int TrueIndex, int Order, MisclassifiedImage Image)>();
        for (var i = 0; i < predictions.Count; i++)
        {
            if (trueIndexes[i] == predictedIndexes[i])
            {
                continue;
            }

            var prediction = predictions[i];
            misclassified.Add((trueIndexes[i], i, new MisclassifiedImage
            {
                Path = prediction.Path,
                TrueLabel = prediction.TrueLabel,
                PredictedLabel = prediction.PredictedLabel,
                PredictedProbability = prediction.Probabilities[predictedIndexes[i]],
                TrueLabelProbability = prediction.Probabilities[trueIndexes[i]],
            }));
        }

        // Grouping follows first appearance, so hand the images over in class-list order.
        return new ErrorReport(misclassified
            .OrderBy(entry => entry.TrueIndex)
            .ThenBy(entry => entry.Order)
            .Select(entry => entry.Image));
    }

    /// <summary>
    /// The top losses both ways (fastai's <c>plot_top_losses</c>): the <paramref name="count"/> most confident errors and the
    /// <paramref name="count"/> least confident correct predictions; see <see cref="TopLossReport"/> for the order.
    /// </summary>
    /// <param name="classLabels">The class labels, in the order of each prediction's probabilities.</param>
    /// <param name="predictions">One prediction per image.</param>
    /// <param name="count">The most images in each list. The default is 10.</param>
    /// <exception cref="ArgumentException">As <see cref="ComputeErrors"/>: empty or duplicate classes, no predictions, unknown labels, wrong probability lengths.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    public static TopLossReport ComputeTopLosses(IReadOnlyList<string> classLabels, IReadOnlyList<Prediction> predictions, int count = 10)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var (_, trueIndexes, predictedIndexes) = Validate(classLabels, predictions);
        var images = predictions.Select((p, i) => new TopLossImage
        {
            Path = p.Path,
            TrueLabel = p.TrueLabel,
            PredictedLabel = p.PredictedLabel,
            PredictedProbability = p.Probabilities[predictedIndexes[i]],
            TrueLabelProbability = p.Probabilities[trueIndexes[i]],
        }).ToArray();
        var errors = images.Where(i => !i.IsCorrect).ToArray();
        var correct = images.Where(i => i.IsCorrect).ToArray();
        return new TopLossReport(
            errors.OrderByDescending(i => i.PredictedProbability).ThenBy(i => i.TrueLabelProbability).ThenBy(i => i.Path, StringComparer.Ordinal).Take(count),
            correct.OrderBy(i => i.PredictedProbability).ThenBy(i => i.Path, StringComparer.Ordinal).Take(count),
            errors.Length,
            correct.Length);
    }

    /// <summary>
    /// The 0-based rank of the true label when classes are sorted by probability, highest first, ties going to the
    /// lower class index: the number of classes with a higher probability, plus those with an equal one and a lower index.
    /// </summary>
    private static int RankOfTrueLabel(IReadOnlyList<float> probabilities, int truth)
    {
        var truthProbability = probabilities[truth];
        var rank = 0;
        for (var j = 0; j < probabilities.Count; j++)
        {
            var p = probabilities[j];
            if (p > truthProbability || (p == truthProbability && j < truth))
            {
                rank++;
            }
        }

        return rank;
    }

    private static int[] ResolveTopK(IReadOnlyList<int>? topK, IReadOnlyList<string>? classLabels)
    {
        var requested = topK ?? DefaultTopK;
        foreach (var k in requested)
        {
            if (k < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(topK), k, "Every top-k value must be at least 1.");
            }
        }

        var classCount = classLabels?.Count ?? 0;
        return requested.Where(k => k <= classCount).Distinct().Order().ToArray();
    }

    /// <summary>Checks everything at once and throws one exception listing every problem, or maps the labels to class indexes.</summary>
    private static (string[] Labels, int[] TrueIndexes, int[] PredictedIndexes) Validate(IReadOnlyList<string> classLabels, IReadOnlyList<Prediction> predictions)
    {
        ArgumentNullException.ThrowIfNull(classLabels);
        ArgumentNullException.ThrowIfNull(predictions);

        var labels = classLabels.ToArray();
        var classProblems = new List<string>();
        var indexByLabel = new Dictionary<string, int>(labels.Length, StringComparer.Ordinal);
        if (labels.Length == 0)
        {
            classProblems.Add("The class list is empty; at least one class label is required.");
        }

        for (var c = 0; c < labels.Length; c++)
        {
            if (labels[c] is null)
            {
                classProblems.Add($"The class label at index {c} is null.");
            }
            else if (!indexByLabel.TryAdd(labels[c], c))
            {
                classProblems.Add($"The class list has the duplicate label '{labels[c]}' (indexes {indexByLabel[labels[c]]} and {c}).");
            }
        }

        var predictionProblems = new List<string>();
        if (predictions.Count == 0)
        {
            predictionProblems.Add("The prediction list is empty; at least one prediction is required.");
        }

        var trueIndexes = new int[predictions.Count];
        var predictedIndexes = new int[predictions.Count];
        for (var i = 0; i < predictions.Count; i++)
        {
            var prediction = predictions[i];
            if (prediction is null)
            {
                predictionProblems.Add($"Prediction {i} is null.");
                continue;
            }

            var where = $"Prediction {i} ('{prediction.Path}')";
            if (prediction.Path is null)
            {
                predictionProblems.Add($"{where} has a null path.");
            }

            trueIndexes[i] = LabelIndex(prediction.TrueLabel, "true", where);
            predictedIndexes[i] = LabelIndex(prediction.PredictedLabel, "predicted", where);
            CheckProbabilities(prediction.Probabilities, where);
        }

        if (classProblems.Count > 0 || predictionProblems.Count > 0)
        {
            var parameterName = classProblems.Count > 0 ? nameof(classLabels) : nameof(predictions);
            throw new ArgumentException(Describe(classProblems.Concat(predictionProblems).ToList()), parameterName);
        }

        return (labels, trueIndexes, predictedIndexes);

        int LabelIndex(string label, string kind, string where)
        {
            if (label is null)
            {
                predictionProblems.Add($"{where} has a null {kind} label.");
                return -1;
            }

            if (indexByLabel.TryGetValue(label, out var index))
            {
                return index;
            }

            predictionProblems.Add($"{where} has the {kind} label '{label}', which is not in the class list.");
            return -1;
        }

        void CheckProbabilities(IReadOnlyList<float> probabilities, string where)
        {
            if (probabilities is null)
            {
                predictionProblems.Add($"{where} has no probabilities.");
                return;
            }

            if (probabilities.Count != labels.Length)
            {
                predictionProblems.Add($"{where} has {probabilities.Count} probabilities but there are {labels.Length} classes.");
                return;
            }

            for (var c = 0; c < probabilities.Count; c++)
            {
                if (!float.IsFinite(probabilities[c]) || probabilities[c] < 0)
                {
                    predictionProblems.Add(string.Create(
                        CultureInfo.InvariantCulture,
                        $"{where} has the probability {probabilities[c]} at index {c}; probabilities must be finite and non-negative."));
                    return;
                }
            }
        }
    }

    private static string Describe(List<string> problems)
    {
        if (problems.Count == 1)
        {
            return "The evaluation input is invalid: " + problems[0];
        }

        var message = new StringBuilder();
        message.Append(CultureInfo.InvariantCulture, $"The evaluation input has {problems.Count} problems:");
        foreach (var problem in problems.Take(MaxListedProblems))
        {
            message.AppendLine().Append("- ").Append(problem);
        }

        if (problems.Count > MaxListedProblems)
        {
            message.AppendLine().Append(CultureInfo.InvariantCulture, $"- ... and {problems.Count - MaxListedProblems} more.");
        }

        return message.ToString();
    }
}
