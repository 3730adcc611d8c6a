using PokeClassifier.Data;

namespace PokeClassifier.Tests.Data;

public sealed class SplitTests
{
    private static ImageDataset Synthetic(int classes, int groupsPerClass, int perGroup, bool grouped = true) =>
        new(Enumerable.Range(0, classes).SelectMany(c => Enumerable.Range(0, groupsPerClass).SelectMany(g => Enumerable.Range(0, perGroup).Select(i => new DatasetItem
        {
            Path = $"/d/c{c}/g{g}_{i}.png",
            Label = $"c{c}",
            Group = grouped ? $"c{c}-g{g}" : null,
        }))));

    [Fact]
    public void Given_fractions_When_split_without_groups_Then_each_class_is_divided_by_the_fractions()
    {
        var dataset = Synthetic(3, 50, 1, grouped: false);
        var split = dataset.Split(new SplitOptions { TrainFraction = 0.6, ValidationFraction = 0.2, TestFraction = 0.2, Seed = 1 });
        foreach (var c in dataset.Classes)
        {
            Assert.Equal(30, split.Train.Count(i => i.Label == c));
            Assert.Equal(10, split.Validation.Count(i => i.Label == c));
            Assert.Equal(10, split.Test.Count(i => i.Label == c));
        }

        Assert.Equal(150, split.Train.Concat(split.Validation).Concat(split.Test).Select(i => i.Path).Distinct().Count());
    }

    [Fact]
    public void Given_groups_When_split_Then_no_group_straddles_two_sets_and_every_class_is_in_every_set()
    {
        var dataset = Synthetic(5, 9, 7);
        var split = dataset.Split(new SplitOptions { Seed = 3 });
        Assert.Empty(split.LeakingGroups());
        foreach (var c in dataset.Classes)
        {
            Assert.Contains(split.Train, i => i.Label == c);
            Assert.Contains(split.Validation, i => i.Label == c);
            Assert.Contains(split.Test, i => i.Label == c);
        }

        // 9 groups of 7: test gets round(63 * 0.2) = 13 -> two groups (14), validation round(6.3) = 6 -> one group (7).
        Assert.Equal(14, split.Test.Count(i => i.Label == "c0"));
        Assert.Equal(7, split.Validation.Count(i => i.Label == "c0"));
    }

    [Fact]
    public void Given_the_same_seed_When_split_twice_Then_the_splits_are_identical_and_another_seed_differs()
    {
        var dataset = Synthetic(4, 20, 2);
        var a = dataset.Split(new SplitOptions { Seed = 11 });
        var b = dataset.Split(new SplitOptions { Seed = 11 });
        var c = dataset.Split(new SplitOptions { Seed = 12 });
        Assert.Equal(a.Test.Select(i => i.Path), b.Test.Select(i => i.Path));
        Assert.Equal(a.Train.Select(i => i.Path), b.Train.Select(i => i.Path));
        Assert.NotEqual(a.Test.Select(i => i.Path).Order(), c.Test.Select(i => i.Path).Order());
    }

    [Fact]
    public void Given_a_class_with_too_few_groups_When_split_Then_the_error_names_it_or_the_train_only_rule_applies()
    {
        var items = Synthetic(2, 10, 1).Items.Concat([new DatasetItem { Path = "/d/rare/1.png", Label = "rare", Group = "r1" }, new DatasetItem { Path = "/d/rare/2.png", Label = "rare", Group = "r1" }]);
        var dataset = new ImageDataset(items);
        var e = Assert.Throws<DatasetException>(() => dataset.Split());
        Assert.Contains("rare (2 images in 1 groups)", e.Message, StringComparison.Ordinal);

        var split = dataset.Split(new SplitOptions { SmallClasses = SmallClassPolicy.TrainOnly });
        Assert.Equal(["rare"], split.TrainOnlyClasses);
        Assert.Equal(2, split.Train.Count(i => i.Label == "rare"));
        Assert.DoesNotContain(split.Test, i => i.Label == "rare");
    }

    [Fact]
    public void Given_invalid_fractions_When_validated_Then_all_problems_are_reported_at_once()
    {
        var e = Assert.Throws<ArgumentException>(() => new SplitOptions { TrainFraction = 1.5, TestFraction = -0.1 }.Validate());
        Assert.Contains("TrainFraction must be between 0 and 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("TestFraction must be between 0 and 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("add up to 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Given_k_folds_When_split_Then_folds_partition_the_data_stratified_and_group_aware()
    {
        var dataset = Synthetic(3, 10, 3);
        var folds = dataset.KFold(5, seed: 2);
        Assert.Equal(5, folds.Count);
        Assert.Equal(dataset.Items.Count, folds.Sum(f => f.Test.Count));
        Assert.Equal(dataset.Items.Select(i => i.Path).Order(), folds.SelectMany(f => f.Test).Select(i => i.Path).Order());
        foreach (var fold in folds)
        {
            Assert.Empty(fold.LeakingGroups());
            Assert.Equal(dataset.Items.Count, fold.Train.Count + fold.Test.Count);
            foreach (var c in dataset.Classes)
            {
                Assert.Equal(6, fold.Test.Count(i => i.Label == c)); // 10 groups of 3 per class over 5 folds: two groups each
            }
        }

        Assert.Throws<DatasetException>(() => dataset.KFold(11));
    }

    [Fact]
    public async Task Given_a_split_file_holding_out_one_animation_When_applied_Then_the_held_out_animation_is_the_test_set_and_nothing_leaks()
    {
        var drawn = DrawnAnimations.Write(TestImages.NewTempDir("split-file"), classes: 6, framesPerAnimation: 3, size: 48);
        var dataset = await ImageDataset.FromManifestAsync(drawn.Manifest, new DatasetLoadOptions { VerifyImages = false });
        var split = DatasetSplit.FromFile(dataset, drawn.HoldoutFrontSplit);
        Assert.Equal(dataset.Items.Count, split.Train.Count + split.Test.Count);
        Assert.Equal(6 * 3, split.Test.Count);
        Assert.Equal(6, split.Test.Select(i => i.Group).Distinct().Count());
        Assert.All(split.Test, i => Assert.EndsWith("_front", i.Group, StringComparison.Ordinal));
        Assert.Empty(split.LeakingGroups());
        Directory.Delete(drawn.Root, recursive: true);
    }
}
