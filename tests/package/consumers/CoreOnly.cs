// tests/package/run.sh, check D: an application that references only the PokeClassifier package (no TorchSharp, no libtorch) asks
// for each TorchSharp feature and must get one line naming the PokeClassifier.TorchSharp package, not a missing-assembly crash.
// Usage: dotnet CoreOnly.dll <folder-per-class images> <model saved with a TorchSharp head>
using PokeClassifier;
using PokeClassifier.Backbones;
using PokeClassifier.Training;
using PokeClassifier.Training.Budget;

var images = args[0];
var failures = 0;
async Task Expect(string what, Func<Task> action)
{
    try
    {
        await action();
        Console.WriteLine($"FAIL {what}: no error");
        failures++;
    }
    catch (PokeClassifierException e) when (e.Message.Contains("PokeClassifier.TorchSharp", StringComparison.Ordinal) && !e.Message.Contains('\n', StringComparison.Ordinal))
    {
        Console.WriteLine($"ok   {what}: {e.GetType().Name}: {e.Message}");
    }
    catch (Exception e)
    {
        Console.WriteLine($"FAIL {what}: {e.GetType().FullName}: {e.Message}");
        failures++;
    }
}

await Expect("load a model with a TorchSharp head", () => { TrainedClassifier.Load(args[1]).Dispose(); return Task.CompletedTask; });
await Expect("train a custom head", async () => (await ImageClassification.FromFolder(images).WithCustomHead().RunAsync()).Dispose());
await Expect("fine-tune", async () => (await ImageClassification.FromFolder(images).WithFineTuning().RunAsync()).Dispose());
await Expect("a time budget", async () => (await ImageClassification.FromFolder(images).WithTimeBudget(TrainingBudget.Fast).RunAsync()).Dispose());
await Expect("a torchvision backbone (densenet201)", async () => (await ImageClassification.FromFolder(images).WithBackbone(BackboneSpec.Pretrained("densenet201")).WithMLNetHead().RunAsync()).Dispose());
await Expect("a TorchSharp backbone (VGG16Torch)", async () => (await ImageClassification.FromFolder(images).WithBackbone(BackboneSpec.VGG16Torch("missing-vgg16.pth")).WithMLNetHead().RunAsync()).Dispose());
Console.WriteLine($"core-only: {failures} failed");
return failures == 0 ? 0 : 1;
