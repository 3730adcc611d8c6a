using PokeClassifier.Data;

namespace PokeClassifier.Tests.Training;

public sealed class PokemonRunTests
{
    [Fact]
    public async Task Given_part_of_the_sprite_set_with_a_held_out_animation_When_run_Then_accuracy_is_far_above_chance_and_nothing_leaks()
    {
        // 20 classes; the test set is each class's front animation (its shiny twin, same poses, stays in training).
        var manifest = Path.Combine(TestImages.SharedDataset, "manifest.csv");
        var all = await ImageDataset.FromManifestAsync(manifest);
        var classes = all.Classes.Where((_, i) => i % 7 == 0).Take(20).ToHashSet(StringComparer.Ordinal);
        var dataset = all.Where(i => classes.Contains(i.Label));
        var split = DatasetSplit.FromFile(dataset, Path.Combine(TestImages.SharedSplits, "pokeapi_holdout-gif-front.csv"));
        Assert.Empty(split.LeakingGroups());

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
