using PokeClassifier.Evaluation;
using PokeClassifier.Experiments;
using PokeClassifier.Training;

namespace PokeClassifier.Pipeline;

/// <summary>Turns the outcomes of a configuration's folds into the one result model that reports render, for a single run and an experiment alike.</summary>
internal static class ConfigurationResults
{
    /// <summary>
    /// The result of <paramref name="head"/> on <paramref name="backbone"/> over <paramref name="folds"/> (every one evaluated): the
    /// pooled predictions, metrics and errors, one <see cref="FoldResult"/> per fold and, for more than one fold, their spread.
    /// </summary>
    public static ConfigurationResult From(
        string name, string backbone, HeadConfiguration head, IReadOnlyList<string> classes, IReadOnlyList<FoldOutcome> folds, ConfigurationTimings timings)
    {
        var pooled = folds.SelectMany(o => o.Evaluation!.Predictions).ToArray();
        var foldResults = folds.Select((o, f) => new FoldResult
        {
            Fold = f,
            TrainCount = o.TrainCount,
            TestCount = o.Evaluation!.Predictions.Count,
            Metrics = o.Evaluation.Metrics,
            TrainingSeconds = o.Training.TotalSeconds,
            TrainingHistory = o.History,
        }).ToArray();
        return new ConfigurationResult
        {
            Name = name,
            Backbone = backbone,
            Head = head.Description,
            TrainingPath = head.TrainingPath,
            FineTuned = head.FineTunesBackbone,
            Metrics = Evaluator.ComputeMetrics(classes, pooled),
            Errors = Evaluator.ComputeErrors(classes, pooled),
            Predictions = pooled,
            TrainingHistory = foldResults[0].TrainingHistory,
            Timings = timings,
            Folds = foldResults,
            CrossValidation = foldResults.Length > 1 ? Summarise(foldResults) : null,
        };
    }

    private static CrossValidationSummary Summarise(FoldResult[] folds) => new()
    {
        Folds = folds.Length,
        Accuracy = MetricSpread.Of(folds.Select(f => f.Metrics.Accuracy)),
        MacroPrecision = MetricSpread.Of(folds.Select(f => f.Metrics.MacroPrecision)),
        MacroRecall = MetricSpread.Of(folds.Select(f => f.Metrics.MacroRecall)),
        MacroF1 = MetricSpread.Of(folds.Select(f => f.Metrics.MacroF1)),
        Top5Accuracy = folds.All(f => f.Metrics.TopKAccuracy.ContainsKey(5)) ? MetricSpread.Of(folds.Select(f => f.Metrics.TopKAccuracy[5])) : null,
    };
}
