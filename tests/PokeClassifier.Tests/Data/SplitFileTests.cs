using PokeClassifier.Data;

namespace PokeClassifier.Tests.Data;

public sealed class SplitFileTests
{
    private static async Task<(ImageDataset Dataset, string Root)> ShapesAsync()
    {
        var root = TestImages.ShapesDataset(3, seed: 9, "circle", "square");
        return (await ImageDataset.FromFolderAsync(root), root);
    }

    [Fact]
    public async Task Given_rows_that_match_no_image_When_the_split_file_is_read_Then_the_error_lists_each_row_with_its_line()
    {
        var (dataset, root) = await ShapesAsync();
        var file = Path.Combine(root, "split.csv");
        await File.WriteAllLinesAsync(file, ["path,split", "circle/circle_000.jpg,train", "circle/gone.png,train", "square/square_000.jpg,test", "./square/typo.png,test"]);
        var e = Assert.Throws<DatasetException>(() => DatasetSplit.FromFile(dataset, file));
        Assert.Contains("2 row(s) that match no image", e.Message, StringComparison.Ordinal);
        Assert.Contains("line 3: circle/gone.png", e.Message, StringComparison.Ordinal);
        Assert.Contains("line 5: ./square/typo.png", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_class_only_in_test_When_the_split_file_is_read_Then_the_error_names_the_class()
    {
        var (dataset, root) = await ShapesAsync();
        var file = Path.Combine(root, "split.csv");
        await File.WriteAllLinesAsync(file, ["path,split", "circle/circle_000.jpg,train", "circle/circle_001.png,test", "square/square_000.jpg,test"]);
        var e = Assert.Throws<DatasetException>(() => DatasetSplit.FromFile(dataset, file));
        Assert.Contains("leaves 1 class(es) without training images: square (only in validation/test)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_dataset_restricted_to_some_classes_When_its_split_file_with_a_class_column_is_read_Then_other_classes_rows_are_ignored()
    {
        var (dataset, root) = await ShapesAsync();
        var file = Path.Combine(root, "split.csv");
        var rows = dataset.Items.Select(i => $"{Path.GetRelativePath(root, i.Path)},{i.Label},{(i.Path.Contains("_000", StringComparison.Ordinal) ? "test" : "train")}");
        await File.WriteAllLinesAsync(file, ["path,class,split", .. rows]);
        var circles = dataset.Where(i => i.Label == "circle");
        var split = DatasetSplit.FromFile(circles, file);
        Assert.Equal(2, split.Train.Count);
        Assert.Single(split.Test);
        Assert.All(split.Train.Concat(split.Test), i => Assert.Equal("circle", i.Label));
    }

    [Fact]
    public async Task Given_a_path_named_twice_When_the_split_file_is_read_Then_the_error_lists_it()
    {
        var (dataset, root) = await ShapesAsync();
        var file = Path.Combine(root, "split.csv");
        await File.WriteAllLinesAsync(file, ["path,split", "circle/circle_000.jpg,train", "square/square_000.jpg,train", "circle/circle_000.jpg,test"]);
        var e = Assert.Throws<DatasetException>(() => DatasetSplit.FromFile(dataset, file));
        Assert.Contains("circle/circle_000.jpg (lines 2 and 4)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_train_and_test_datasets_When_combined_Then_test_classes_missing_from_training_are_an_error()
    {
        var train = await ImageDataset.FromFolderAsync(TestImages.ShapesDataset(2, seed: 1, "circle", "square"));
        var test = await ImageDataset.FromFolderAsync(TestImages.ShapesDataset(2, seed: 2, "circle", "cross"));
        var e = Assert.Throws<DatasetException>(() => DatasetSplit.FromTrainTest(train, test));
        Assert.Contains("1 class(es) with no training images: cross", e.Message, StringComparison.Ordinal);
        var ok = DatasetSplit.FromTrainTest(train, await ImageDataset.FromFolderAsync(TestImages.ShapesDataset(1, seed: 3, "square")));
        Assert.Equal((4, 1), (ok.Train.Count, ok.Test.Count));
        Assert.Equal(["circle", "square"], ok.Classes);
    }
}
