namespace PokeClassifier.Tests;

/// <summary>
/// Tests that read or rely on libtorch's process-wide intra-op thread count (which every fine-tuning run sets from its options):
/// they run alone, so no other test changes the count under them and seeded runs reduce in the same order both times.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LibTorchThreads
{
    public const string Name = "libtorch thread count";
}
