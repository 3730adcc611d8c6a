using System.ComponentModel;
using System.Reflection;
using System.Text.RegularExpressions;
using PokeClassifier.Cli.Commands;

namespace PokeClassifier.Cli.Tests;

/// <summary>The options' help text names backbones in words; these tests tie it to the registry the options accept names from.</summary>
public sealed partial class BackboneHelpTests
{
    [GeneratedRegex(@"\b[a-z]+[0-9]+(?:-[a-z]+)?\b")]
    private static partial Regex NameLike();

    private static string Help(Type settings, string property) =>
        settings.GetProperty(property)!.GetCustomAttribute<DescriptionAttribute>()!.Description;

    [Theory]
    [InlineData(typeof(TrainCommand.Settings), nameof(TrainCommand.Settings.Backbone))]
    [InlineData(typeof(CompareCommand.Settings), nameof(CompareCommand.Settings.Backbones))]
    public void Given_the_accepted_backbones_When_reading_the_option_help_Then_it_names_each_of_them_and_no_other(Type settings, string property)
    {
        var help = Help(settings, property);
        var named = NameLike().Matches(help).Select(m => m.Value).ToHashSet(StringComparer.Ordinal);

        Assert.All(Inputs.Backbones, name => Assert.Contains(name, named));
        Assert.All(named, name => Assert.Contains(name, Inputs.Backbones));
    }
}
