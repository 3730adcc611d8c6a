using PublicApiGenerator;

namespace PokeClassifier.Tests;

/// <summary>Guards the public surface: any change shows up as a diff against PublicApi.approved.txt, to be reviewed and approved.</summary>
public sealed class PublicApiTests
{
    [Fact]
    public void Given_the_library_When_its_public_api_is_generated_Then_it_matches_the_approved_file()
    {
        var api = typeof(ImageClassification).Assembly.GeneratePublicApi(new ApiGeneratorOptions { ExcludeAttributes = ["System.Runtime.Versioning.TargetFrameworkAttribute", "System.Reflection.AssemblyMetadataAttribute"] });
        // The approved file is copied next to the test assembly; source paths are not reliable under deterministic CI builds.
        var approved = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "PublicApi.approved.txt"));
        if (Normalise(approved) != Normalise(api))
        {
            var received = Path.Combine(AppContext.BaseDirectory, "PublicApi.received.txt");
            File.WriteAllText(received, api);
            Assert.Fail($"The public API changed. Review {received} and, if intended, copy it over tests/PokeClassifier.Tests/PublicApi.approved.txt.");
        }
    }

    private static string Normalise(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal).Trim();
}
