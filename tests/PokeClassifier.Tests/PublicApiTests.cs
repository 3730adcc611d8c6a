using PublicApiGenerator;

namespace PokeClassifier.Tests;

/// <summary>
/// Guards the public surface of both packages: any change shows up as a diff against the approved file of its assembly
/// (PublicApi.approved.txt for PokeClassifier, PublicApi.TorchSharp.approved.txt for PokeClassifier.TorchSharp), to be reviewed and approved.
/// </summary>
public sealed class PublicApiTests
{
    [Fact]
    public void Given_the_library_When_its_public_api_is_generated_Then_it_matches_the_approved_file() =>
        AssertApproved(typeof(ImageClassification).Assembly, "PublicApi.approved.txt");

    [Fact]
    public void Given_the_TorchSharp_package_When_its_public_api_is_generated_Then_it_matches_the_approved_file() =>
        AssertApproved(typeof(TorchSharpServices).Assembly, "PublicApi.TorchSharp.approved.txt");

    private static void AssertApproved(System.Reflection.Assembly assembly, string approvedFile)
    {
        var api = assembly.GeneratePublicApi(new ApiGeneratorOptions { ExcludeAttributes = ["System.Runtime.Versioning.TargetFrameworkAttribute", "System.Reflection.AssemblyMetadataAttribute"] });
        // The approved file is copied next to the test assembly; source paths are not reliable under deterministic CI builds.
        var approved = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, approvedFile));
        if (Normalise(approved) != Normalise(api))
        {
            var received = Path.Combine(AppContext.BaseDirectory, Path.ChangeExtension(approvedFile, null).Replace(".approved", ".received", StringComparison.Ordinal) + ".txt");
            File.WriteAllText(received, api);
            Assert.Fail($"The public API of {assembly.GetName().Name} changed. Review {received} and, if intended, copy it over tests/PokeClassifier.Tests/{approvedFile}.");
        }
    }

    private static string Normalise(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal).Trim();
}
