using PokeClassifier.Backbones.Torch;
using static TorchSharp.torch;

namespace PokeClassifier.Tests.Backbones.Torch;

[Collection(LibTorchThreads.Name)]
public sealed class TorchRuntimeTests
{
    [Fact]
    public void Given_this_machine_When_TorchSharp_is_initialized_in_the_test_process_Then_tensor_operations_run_on_one_intra_op_thread()
    {
        TorchRuntime.EnsureInitialized(intraOpThreads: 1);

        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        var b = tensor(new float[] { 1, 0, 0, 1, 1, 1 }, [3, 2]);
        var product = mm(a, b).data<float>().ToArray();

        Assert.Equal([4f, 5f, 10f, 11f], product);
        Assert.Equal(1, get_num_threads());
        Assert.Equal("PASSIVE", Environment.GetEnvironmentVariable("OMP_WAIT_POLICY"), ignoreCase: true);
        Assert.All(TorchRuntime.PatchResults, r => Assert.NotEqual(LibTorchSharpPatchOutcome.Failed, r.Outcome));
    }

    [Fact]
    public void Given_a_thread_count_When_initialized_again_Then_libtorch_uses_it_and_zero_is_refused()
    {
        try
        {
            TorchRuntime.EnsureInitialized(intraOpThreads: 2);
            Assert.Equal(2, get_num_threads());

            // Loading a module or building a head inside a run keeps the run's threads.
            using (OnnxTorchImporter.Import(PokeClassifier.Backbones.BackboneSpec.ResNet18.ModelPath))
            using (PokeClassifier.Training.Custom.HeadNetwork.Build(PokeClassifier.Training.Custom.CustomHeadOptions.GlobalAveragePoolDense(), [8], 3, seed: 1))
            {
                Assert.Equal(2, get_num_threads());
            }
        }
        finally
        {
            TorchRuntime.EnsureInitialized(intraOpThreads: 1);
        }

        Assert.Equal(1, get_num_threads());
        Assert.Throws<ArgumentOutOfRangeException>(() => TorchRuntime.EnsureInitialized(0));
    }

    [Fact]
    public void Given_a_system_without_GLIBCXX_3_4_32_and_a_refused_patch_When_the_load_fails_Then_the_message_names_the_cause_and_the_fixes()
    {
        var refused = new LibTorchSharpPatchResult("/app/libLibTorchSharp.so", LibTorchSharpPatchOutcome.Failed, "/app/libLibTorchSharp.so: could not be patched: Read-only file system");

        var message = TorchRuntime.ExplainLoadFailure(false, "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30", [refused]);

        Assert.Contains("GLIBCXX_3.4.32", message, StringComparison.Ordinal);
        Assert.Contains("/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30", message, StringComparison.Ordinal);
        Assert.Contains("wrongly reports a missing reference to libtorch-cpu-linux-x64", message, StringComparison.Ordinal);
        Assert.Contains("Read-only file system", message, StringComparison.Ordinal);
        Assert.Contains("GCC 13 or later", message, StringComparison.Ordinal);
        Assert.DoesNotContain("GLIBCXX", TorchRuntime.ExplainLoadFailure(true, "/usr/lib/libstdc++.so.6", []), StringComparison.Ordinal);
    }
}
