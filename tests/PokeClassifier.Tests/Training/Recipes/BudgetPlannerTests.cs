using PokeClassifier.Training.Budget;
using PokeClassifier.Training;

namespace PokeClassifier.Tests.Training.Recipes;

/// <summary>How a time budget's seconds become a cached fine-tuning plan (size and epochs), from the costs measured at the start.</summary>
public sealed class BudgetPlannerTests
{
    // One-off and per-epoch seconds of each input size, in the proportions measured on kaggle-visible (2,704 training images).
    private static readonly (int Size, double FixedCost, double EpochCost)[] Costs = [(224, 240, 40), (256, 300, 52), (288, 380, 66)];

    [Fact]
    public void Given_a_long_budget_When_planning_Then_the_largest_size_trains_as_many_epochs_as_fit_up_to_the_cap()
    {
        var plan = BudgetPlanner.Choose(3600, Costs)!.Value;

        Assert.Equal(288, plan.Size);
        Assert.Equal(BudgetPlanner.MaximumEpochs, plan.Epochs);
        Assert.Equal(380 + (BudgetPlanner.MaximumEpochs * 66), plan.Seconds);
    }

    [Fact]
    public void Given_a_budget_that_fills_before_the_cap_When_planning_Then_the_epochs_fill_the_time_left()
    {
        var plan = BudgetPlanner.Choose(1500, Costs)!.Value;

        Assert.Equal(288, plan.Size);
        Assert.Equal((int)Math.Floor((1500 - 380) / 66.0), plan.Epochs);
        Assert.True(plan.Seconds <= 1500);
    }

    [Fact]
    public void Given_a_budget_where_a_larger_size_affords_too_few_epochs_When_planning_Then_the_smaller_size_with_more_epochs_is_kept()
    {
        // 288 px would afford 6 epochs, below the 8 a larger size must afford; 256 px affords 9.
        var plan = BudgetPlanner.Choose(380 + (6.5 * 66), Costs)!.Value;

        Assert.Equal(256, plan.Size);
        Assert.Equal((int)Math.Floor((380 + (6.5 * 66) - 300) / 52), plan.Epochs);
    }

    [Fact]
    public void Given_a_budget_too_short_for_the_fewest_epochs_When_planning_Then_there_is_no_fine_tuning_plan()
    {
        Assert.Null(BudgetPlanner.Choose(240 + (2.5 * 40), Costs));
        Assert.Equal(BudgetPlanner.MinimumEpochs, BudgetPlanner.Choose(240 + (3 * 40), Costs)!.Value.Epochs);
    }
}
