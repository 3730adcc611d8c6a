using PokeClassifier.Data;

namespace PokeClassifier.Tests.Training;

public sealed class HeldOutAnimationRunTests
{
    [Fact]
    public async Task Given_20_drawn_classes_with_a_held_out_animation_When_run_Then_accuracy_is_far_above_chance_and_nothing_leaks()
    {
        // 20 classes of four animations each; the test set is each class's front animation (its shiny twin, same pose, stays in training).
        var drawn = DrawnAnimations.Get(classes: 20, framesPerAnimation: 3);
        var dataset = await ImageDataset.FromManifestAsync(drawn.Manifest);
        var split = DatasetSplit.FromFile(dataset, drawn.HoldoutFrontSplit);
        Assert.Empty(split.LeakingGroups());
        Assert.Equal(20 * 3, split.Test.Count);

        using var run = await ImageClassification.From(dataset)
            .WithSplit(split)
            .WithFeatureCache(Path.Combine(Path.GetTempPath(), "pokeclassifier-tests-cache"))
            .RunAsync();

        Assert.Equal(20, run.Metrics.ClassCount);
        Assert.True(run.Metrics.Accuracy > 0.5, $"accuracy {run.Metrics.Accuracy} (chance 0.05)\n{run.ToReport()}");
        Assert.Equal(run.Metrics.SampleCount - run.Errors.All.Count, (int)Math.Round(run.Metrics.Accuracy * run.Metrics.SampleCount));
        Assert.All(run.Errors.All, e => Assert.NotEqual(e.TrueLabel, e.PredictedLabel));
    }
}
