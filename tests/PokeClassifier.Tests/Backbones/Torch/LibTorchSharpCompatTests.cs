using PokeClassifier.Backbones.Torch;

namespace PokeClassifier.Tests.Backbones.Torch;

public sealed class LibTorchSharpCompatTests
{
    /// <summary>TorchSharp 0.107.0's library as restored in the NuGet cache (never modified: tests work on copies).</summary>
    private static string OriginalLibrary
    {
        get
        {
            var root = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
                ? configured
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            var path = Path.Combine(root, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", LibTorchSharpCompat.FileName);
            Assert.True(File.Exists(path), $"{path} is missing: restore the solution first.");
            return path;
        }
    }

    private static string CopyOfOriginal()
    {
        var path = Path.Combine(TestImages.NewTempDir("libtorchsharp"), LibTorchSharpCompat.FileName);
        File.Copy(OriginalLibrary, path);
        return path;
    }

    [Fact]
    public void Given_TorchSharps_original_library_When_patched_Then_only_the_GLIBCXX_3_4_32_requirement_becomes_weak()
    {
        var path = CopyOfOriginal();
        var before = File.ReadAllBytes(path);
        Assert.Equal(LibTorchSharpCompat.OriginalSha256, LibTorchSharpCompat.Sha256Hex(before));
        var needsBefore = LibTorchSharpCompat.ReadVersionNeeds(before);
        var target = Assert.Single(needsBefore, n => n.Version == LibTorchSharpCompat.RequiredVersion);
        Assert.Equal("libstdc++.so.6", target.File);
        Assert.Equal(0, target.Flags);

        var result = LibTorchSharpCompat.Apply(path, force: true, protectedRoot: null);

        Assert.Equal(LibTorchSharpPatchOutcome.Patched, result.Outcome);
        var after = File.ReadAllBytes(path);
        Assert.Equal(LibTorchSharpCompat.PatchedSha256, LibTorchSharpCompat.Sha256Hex(after));
        var changed = Enumerable.Range(0, before.Length).Where(i => before[i] != after[i]).ToArray();
        Assert.Equal([target.FlagsOffset], changed.Select(i => (long)i));
        Assert.Equal(0x02, after[target.FlagsOffset]);
        var needsAfter = LibTorchSharpCompat.ReadVersionNeeds(after);
        Assert.Equal(needsBefore.Count, needsAfter.Count);
        Assert.All(needsAfter, n => Assert.Equal(n.Version == LibTorchSharpCompat.RequiredVersion ? 2 : 0, n.Flags));
        Assert.Equal(File.GetLastWriteTimeUtc(OriginalLibrary), File.GetLastWriteTimeUtc(path));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(path)!, "*.tmp"));
    }

    [Fact]
    public void Given_a_patched_library_When_patched_again_Then_it_is_left_as_it_is()
    {
        var path = CopyOfOriginal();
        Assert.Equal(LibTorchSharpPatchOutcome.Patched, LibTorchSharpCompat.Apply(path, force: true, protectedRoot: null).Outcome);
        var bytes = File.ReadAllBytes(path);
        var modified = File.GetLastWriteTimeUtc(path);

        var again = LibTorchSharpCompat.Apply(path, force: true, protectedRoot: null);

        Assert.Equal(LibTorchSharpPatchOutcome.AlreadyPatched, again.Outcome);
        Assert.Equal(bytes, File.ReadAllBytes(path));
        Assert.Equal(modified, File.GetLastWriteTimeUtc(path));
    }

    [Fact]
    public void Given_a_library_with_an_unknown_hash_When_patched_Then_it_is_refused_and_unchanged()
    {
        var path = CopyOfOriginal();
        var bytes = File.ReadAllBytes(path);
        bytes[^1] ^= 0xff; // another build of the library: same structure, other bytes
        File.WriteAllBytes(path, bytes);

        var result = LibTorchSharpCompat.Apply(path, force: true, protectedRoot: null);

        Assert.Equal(LibTorchSharpPatchOutcome.UnknownFile, result.Outcome);
        Assert.Contains(LibTorchSharpCompat.Sha256Hex(bytes), result.Message, StringComparison.Ordinal);
        Assert.Equal(bytes, File.ReadAllBytes(path));
    }

    [Fact]
    public void Given_a_library_inside_the_NuGet_cache_When_patched_Then_it_is_refused_and_unchanged()
    {
        var path = CopyOfOriginal();
        var cache = Path.GetDirectoryName(Path.GetDirectoryName(path))!;

        var result = LibTorchSharpCompat.Apply(path, force: true, protectedRoot: cache);

        Assert.Equal(LibTorchSharpPatchOutcome.Refused, result.Outcome);
        Assert.Equal(LibTorchSharpCompat.OriginalSha256, LibTorchSharpCompat.Sha256Hex(File.ReadAllBytes(path)));
    }

    [Fact]
    public void Given_the_systems_libstdcxx_When_its_version_definitions_are_read_Then_they_answer_whether_a_version_is_provided()
    {
        var libstdcxx = LibTorchSharpCompat.FindSystemLibStdCxx();
        Assert.NotNull(libstdcxx);
        var versions = LibTorchSharpCompat.ReadVersionDefinitions(File.ReadAllBytes(libstdcxx));

        Assert.Contains("GLIBCXX_3.4", versions);
        Assert.Contains("CXXABI_1.3", versions);
        Assert.True(LibTorchSharpCompat.SystemProvides("GLIBCXX_3.4"));
        Assert.False(LibTorchSharpCompat.SystemProvides("GLIBCXX_99.0"));
        Assert.Equal(versions.Contains(LibTorchSharpCompat.RequiredVersion), LibTorchSharpCompat.SystemProvides(LibTorchSharpCompat.RequiredVersion));
    }

    [Fact]
    public void Given_this_test_build_When_its_output_is_inspected_Then_the_build_step_patched_libLibTorchSharp_where_the_system_needs_it()
    {
        var output = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", LibTorchSharpCompat.FileName);
        var hash = LibTorchSharpCompat.Sha256Hex(File.ReadAllBytes(output));
        var expected = LibTorchSharpCompat.SystemProvides(LibTorchSharpCompat.RequiredVersion) == true
            ? LibTorchSharpCompat.OriginalSha256
            : LibTorchSharpCompat.PatchedSha256;

        Assert.Equal(expected, hash);
        Assert.Equal(LibTorchSharpCompat.OriginalSha256, LibTorchSharpCompat.Sha256Hex(File.ReadAllBytes(OriginalLibrary)));
    }
}
