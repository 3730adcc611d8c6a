namespace PokeClassifier.Cli.Tests;

/// <summary>The training knobs and time budgets of <c>train</c>: each bad combination is one clear line and the usage exit code; a knob reaches the training.</summary>
public sealed class TrainingKnobTests
{
    private static readonly Lazy<string> Data = new(() =>
    {
        var root = Path.Combine(CliFixture.NewTempDir("knobs"), "shapes");
        CliFixture.DrawShapes(root, 6, seed: 9, "circle", "square");
        return root;
    });

    [Theory]
    [InlineData("--head lbfgs --epochs 3", "--epochs")]
    [InlineData("--head gap --input-size 96", "--input-size")]
    [InlineData("--head finetune --input-size 100", "InputSize")]
    [InlineData("--head finetune --augment maybe", "--augment")]
    [InlineData("--head finetune --augment trivial,maybe", "--augment")]
    [InlineData("--head finetune --augment off,trivial", "--augment")]
    [InlineData("--head gap --augment trivial", "--augment")]
    [InlineData("--head finetune --unfreeze some", "--unfreeze")]
    [InlineData("--head gap --label-smoothing 1.5", "LabelSmoothing")]
    [InlineData("--head lbfgs --mixup 0.2", "--mixup does not apply")]
    [InlineData("--head gap --progressive-resize", "--progressive-resize")]
    [InlineData("--head gap --mixup 0.2 --cutmix 1", "--mixup and --cutmix cannot be used together")]
    [InlineData("--head gap --mixup 0", "Mixing: Alpha must be a positive number")]
    [InlineData("--preset fast --cutmix 1", "--time-budget/--preset")]
    [InlineData("--time-budget soon", "--time-budget")]
    [InlineData("--preset quick", "--preset")]
    [InlineData("--preset fast --epochs 2", "--time-budget/--preset")]
    [InlineData("--preset fast --time-budget 10m", "cannot be used together")]
    public async Task Given_a_bad_knob_When_training_Then_one_line_names_it_with_the_usage_code(string options, string says)
    {
        var run = await CliRun.RunAsync(["train", Data.Value, "--no-cache", .. options.Split(' ')]);

        Assert.True(run.ExitCode == ExitCodes.Usage, run.ToString());
        var line = Assert.Single(run.ErrorLines);
        Assert.Contains(says, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_epochs_and_a_learning_rate_When_training_a_study_head_Then_the_history_has_that_many_epochs()
    {
        var dir = CliFixture.NewTempDir("knob-run");
        var model = Path.Combine(dir, "model.zip");

        var run = await CliRun.RunAsync("train", Data.Value, "--head", "gap", "--epochs", "3", "--lr", "0.01", "--tta", "--cache", Path.Combine(dir, "cache"), "--out", model, "--split", "0.7,0,0.3");

        Assert.True(run.ExitCode == ExitCodes.Ok, run.ToString());
        using var classifier = PokeClassifier.Training.TrainedClassifier.Load(model);
        Assert.True(classifier.Training!.History.Count <= 3, classifier.Training.ToTable());
        Assert.Equal(0.01, classifier.Training.History[0].LearningRate, 6);
    }

    [Fact]
    public async Task Given_augment_trivial_When_fine_tuning_Then_the_saved_model_was_trained_with_TrivialAugment()
    {
        var dir = CliFixture.NewTempDir("knob-trivial");
        var model = Path.Combine(dir, "model.zip");

        var run = await CliRun.RunAsync("train", Data.Value, "--head", "finetune", "--augment", "on,trivial", "--input-size", "64", "--epochs", "1", "--batch-size", "8", "--no-cache", "--out", model, "--split", "0.7,0,0.3");

        Assert.True(run.ExitCode == ExitCodes.Ok, run.ToString());
        Assert.Contains("augmented (TrivialAugment)", run.ToString(), StringComparison.Ordinal);
    }
}
