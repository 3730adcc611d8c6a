namespace PokeClassifier.Backbones;

/// <summary>Finds the ResNet18 ONNX files of the <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> package.</summary>
internal static class ResNet18Files
{
    internal const string PackageId = "microsoft.ml.dnnimagefeaturizer.resnet18";
    internal const string PackageVersion = "0.23.1";
    internal const string ModelRelative = "ResNet18Onnx/ResNet18.onnx";
    internal const string PreprocessRelative = "ResNetPrepOnnx/ResNetPreprocess.onnx";
    internal const string ModelSha256 = "e2552f19db2dfdb01b3669537b6a0f1b44da38d18279535492ed5dfc2ef1ff8f";

    /// <summary>Where the files were found: the application folder's <c>DnnImageModels</c> (copied at build), then the NuGet package cache.</summary>
    public static string LocateModelsDirectory()
    {
        var candidates = new List<string>
        {
            Path.Combine(AppContext.BaseDirectory, "DnnImageModels"),
            Path.Combine(Path.GetDirectoryName(typeof(ResNet18Files).Assembly.Location) ?? AppContext.BaseDirectory, "DnnImageModels"),
        };
        var env = Environment.GetEnvironmentVariable("POKECLASSIFIER_RESNET18_DIR");
        if (!string.IsNullOrEmpty(env))
        {
            candidates.Insert(0, env);
        }

        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrEmpty(packages))
        {
            packages = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        }

        candidates.Add(Path.Combine(packages, PackageId, PackageVersion, "tools", "DnnImageModels"));
        foreach (var dir in candidates)
        {
            if (File.Exists(Path.Combine(dir, ModelRelative)) && File.Exists(Path.Combine(dir, PreprocessRelative)))
            {
                return dir;
            }
        }

        throw new ModelLoadException(
            "The ResNet18 model files (ResNet18Onnx/ResNet18.onnx, ResNetPrepOnnx/ResNetPreprocess.onnx) were not found. Looked in: " +
            string.Join("; ", candidates) + ". Reference the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 " + PackageVersion +
            " (it copies them to bin/DnnImageModels) or set POKECLASSIFIER_RESNET18_DIR to a folder holding them.");
    }

    public static BackboneSpec Spec()
    {
        var dir = LocateModelsDirectory();
        return new BackboneSpec
        {
            Name = "ResNet18",
            ModelPath = Path.Combine(dir, ModelRelative),
            InputName = "Input247",
            OutputName = "Pooling395_Output_0",
            InputWidth = 224,
            InputHeight = 224,
            FeatureLength = 512,
            WeightSources =
            [
                new WeightSource
                {
                    FileName = "ResNet18.onnx",
                    Sha256 = ModelSha256,
                    Format = WeightFormat.Onnx,
                    HowToProduce = $"reference the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 {PackageVersion}; it copies the file to bin/DnnImageModels/{ModelRelative}.",
                },
            ],
            Preprocessing = new ImagePreprocessing
            {
                ChannelOrder = ChannelOrder.Rgb,
                PixelScale = 1f,
                MeanImageModelPath = Path.Combine(dir, PreprocessRelative),
            },
        };
    }
}
