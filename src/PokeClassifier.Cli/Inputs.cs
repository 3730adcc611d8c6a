using PokeClassifier.Backbones;
using PokeClassifier.Data;
using PokeClassifier.Training.Custom;
using PokeClassifier.Training.FineTuning;
using PokeClassifier.Training;

namespace PokeClassifier.Cli;

/// <summary>Turns command-line words into library objects, with one-line errors that say what to do.</summary>
internal static class Inputs
{
    /// <summary>The ResNet18 that ships with ML.NET's package: offline, the default.</summary>
    public const string ShippedResNet18 = "resnet18";

    /// <summary>
    /// Backbones by command-line name: <c>resnet18</c> (shipped, offline) and the library's catalog of pretrained backbones
    /// (<see cref="BackboneSpec.PretrainedNames"/>, torchvision's <c>resnet18</c> being <c>resnet18-torchvision</c> here, since
    /// <c>resnet18</c> is the shipped one); a path to an <c>.onnx</c> file is also accepted (any ONNX CNN).
    /// </summary>
    public static IReadOnlyList<string> Backbones => [ShippedResNet18, .. BackboneSpec.PretrainedNames.Select(CliName)];

    private static string CliName(string catalogName) => catalogName == ShippedResNet18 ? ShippedResNet18 + "-torchvision" : catalogName;

    private static string CatalogName(string cliName) => cliName == ShippedResNet18 + "-torchvision" ? ShippedResNet18 : cliName;

    /// <summary>
    /// Heads by command-line name: the ML.NET path (<c>lbfgs</c>, <c>sdca</c>, <c>lightgbm</c>), the study's TorchSharp heads with the
    /// study's loop (<c>gap</c>: global average pooling + softmax; <c>dense256</c>: flatten + Dense(256, ReLU) + softmax; <c>mlp</c>),
    /// and <c>finetune</c> (the last two backbone blocks fine-tuned with a GAP head, at 128 px, frozen activations cached).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, Func<HeadConfiguration>> Heads = new Dictionary<string, Func<HeadConfiguration>>(StringComparer.OrdinalIgnoreCase)
    {
        ["lbfgs"] = () => HeadConfiguration.MLNet(new MLNetHeadOptions { Trainer = MLNetTrainer.LbfgsMaximumEntropy, ChooseL2OnValidation = true }),
        ["sdca"] = () => HeadConfiguration.MLNet(MLNetTrainer.SdcaMaximumEntropy),
        ["lightgbm"] = () => HeadConfiguration.MLNet(MLNetTrainer.LightGbm),
        ["gap"] = () => HeadConfiguration.Custom(CustomHeadOptions.GlobalAveragePoolDense()),
        ["dense256"] = () => HeadConfiguration.Custom(CustomHeadOptions.FlattenDense256()),
        ["mlp"] = () => HeadConfiguration.Custom(CustomHeadOptions.Mlp(0.5, 256)),
        ["finetune"] = () => HeadConfiguration.FineTune(CustomHeadOptions.GlobalAveragePoolDense(), TrainingOptions.RecommendedFineTune, FineTuneOptions.Recommended),
        ["finetune-cached"] = () => HeadConfiguration.FineTune(CustomHeadOptions.GlobalAveragePoolDense(), TrainingOptions.RecommendedCachedFineTune, FineTuneOptions.RecommendedCached),
        ["finetune-last2"] = () => HeadConfiguration.FineTune(CustomHeadOptions.GlobalAveragePoolDense(), fineTune: new FineTuneOptions { UnfreezeLastBlocks = 2, InputSize = 128 }),
    };

    /// <summary>
    /// The backbone spec for a command-line name: <c>resnet18</c> (shipped with ML.NET, offline), a catalog name (<c>densenet201</c>,
    /// <c>vgg16</c>, <c>densenet201-keras</c>, ...: the published weights, from the weight cache or <paramref name="weights"/> or
    /// downloaded, converted to ONNX once), or a path to an ONNX file. The weights are checked when the run resolves the backbone.
    /// </summary>
    public static BackboneSpec Backbone(string name, string? weights)
    {
        if (weights is not null && !File.Exists(weights))
        {
            throw new ModelLoadException($"weights file '{weights}' does not exist");
        }

        var trimmed = name.Trim();
        if (trimmed.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
        {
            return File.Exists(trimmed)
                ? BackboneSpec.FromOnnx(trimmed)
                : throw new ModelLoadException($"backbone file '{trimmed}' does not exist");
        }

        var lower = trimmed.ToLowerInvariant();
        if (lower == ShippedResNet18)
        {
            return BackboneSpec.ResNet18;
        }

        return Backbones.Contains(lower, StringComparer.Ordinal)
            ? BackboneSpec.Pretrained(CatalogName(lower))
            : throw CliException.Usage($"unknown backbone '{name}'. Available: {string.Join(", ", Backbones)}, or a path to an .onnx file.");
    }

    /// <summary>The shard named by <c>--shard i/n</c>, or every image when the option is absent.</summary>
    public static PokeClassifier.Features.ShardSpec Shard(string? text)
    {
        if (text is null)
        {
            return PokeClassifier.Features.ShardSpec.All;
        }

        try
        {
            return PokeClassifier.Features.ShardSpec.Parse(text);
        }
        catch (FormatException e)
        {
            throw CliException.Usage($"--shard {e.Message}");
        }
    }

    public static HeadConfiguration Head(string name) => Heads.TryGetValue(name.Trim(), out var head)
        ? head()
        : throw CliException.Usage($"unknown head '{name}'. Available: {string.Join(", ", Heads.Keys)}.");

    /// <summary>Loads a folder-per-class tree or a CSV manifest.</summary>
    public static async Task<ImageDataset> LoadAsync(string data, IReadOnlyList<string>? classes, IProgress<int>? progress, CancellationToken cancellationToken, ImageDataset? loaded = null)
    {
        ImageDataset dataset;
        if (loaded is not null)
        {
            dataset = loaded;
        }
        else if (Directory.Exists(data))
        {
            dataset = await ImageDataset.FromFolderAsync(data, progress: progress, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        else if (File.Exists(data) && data.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
        {
            dataset = await ImageDataset.FromManifestAsync(data, progress: progress, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        else if (File.Exists(data))
        {
            throw CliException.DataError($"'{data}' is a file but not a manifest (.csv). Pass a folder with one sub-folder per class, or a manifest .csv with path and label columns.");
        }
        else
        {
            throw CliException.DataError($"'{data}' does not exist. Pass a folder with one sub-folder per class, or a manifest .csv (run 'pokeclassifier prepare' for the default dataset).");
        }

        if (classes is null)
        {
            return dataset;
        }

        var unknown = classes.Where(c => !dataset.Classes.Contains(c, StringComparer.Ordinal)).ToArray();
        if (unknown.Length > 0)
        {
            throw CliException.DataError($"--classes names {string.Join(", ", unknown.Take(10))}, which the dataset does not have. Its classes include: {string.Join(", ", dataset.Classes.Take(10))}{(dataset.Classes.Count > 10 ? ", ..." : string.Empty)}.");
        }

        var wanted = classes.ToHashSet(StringComparer.Ordinal);
        return dataset.Where(i => wanted.Contains(i.Label));
    }

    /// <summary>
    /// Loads the data of a training or comparison command and its fixed split when one is given: <c>--split-file</c> (checked by
    /// <see cref="DatasetSplit.FromFile"/>: rows that match no image and classes left without training images are errors that list
    /// them) or <c>--train</c>/<c>--test</c> folders. <c>--classes</c> restricts both. Without a fixed split the split is
    /// <see langword="null"/> (the command draws one from <c>--split</c>).
    /// </summary>
    public static async Task<(ImageDataset Dataset, DatasetSplit? Split)> LoadWithSplitAsync(Commands.DataSettings settings, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        var classes = settings.ClassList();
        if (settings.TrainData is not null)
        {
            var train = await LoadAsync(settings.TrainData, classes, progress, cancellationToken).ConfigureAwait(false);
            var test = await LoadAsync(settings.TestData!, classes is null ? null : classes.Where(c => train.Classes.Contains(c, StringComparer.Ordinal)).ToArray(), progress, cancellationToken).ConfigureAwait(false);
            var split = DatasetSplit.FromTrainTest(train, test);
            var root = CommonParent(train.Root, test.Root);
            var dataset = new ImageDataset(train.Items.Concat(test.Items), train.Skipped.Concat(test.Skipped), root);
            return (dataset, split);
        }

        if (settings.SplitFile is not null)
        {
            if (!File.Exists(settings.SplitFile))
            {
                throw CliException.DataError($"split file '{settings.SplitFile}' does not exist. Pass a CSV with columns path and split.");
            }

            // The split file is read against every class, then --classes keeps some: rows of the other classes match images.
            var all = await LoadAsync(settings.Data!, null, progress, cancellationToken).ConfigureAwait(false);
            var dataset = await LoadAsync(settings.Data!, classes, null, cancellationToken, all).ConfigureAwait(false);
            var full = DatasetSplit.FromFile(all, settings.SplitFile);
            if (classes is null)
            {
                return (dataset, full);
            }

            var keep = dataset.Classes.ToHashSet(StringComparer.Ordinal);
            return (dataset, new DatasetSplit(dataset.Classes, full.Train.Where(i => keep.Contains(i.Label)), full.Validation.Where(i => keep.Contains(i.Label)), full.Test.Where(i => keep.Contains(i.Label))));
        }

        return (await LoadAsync(settings.Data!, classes, progress, cancellationToken).ConfigureAwait(false), null);
    }

    private static string? CommonParent(string? a, string? b)
    {
        if (a is null || b is null)
        {
            return null;
        }

        var x = Path.GetFullPath(Directory.Exists(a) ? a : Path.GetDirectoryName(a)!).Split(Path.DirectorySeparatorChar);
        var y = Path.GetFullPath(Directory.Exists(b) ? b : Path.GetDirectoryName(b)!).Split(Path.DirectorySeparatorChar);
        var n = 0;
        while (n < x.Length && n < y.Length && x[n] == y[n])
        {
            n++;
        }

        return n <= 1 ? null : string.Join(Path.DirectorySeparatorChar, x.Take(n));
    }

    /// <summary>
    /// Image files named on the command line: files as given, folders searched recursively (hidden entries and sidecar files
    /// ignored, links to folders not followed); FIFOs, devices and folders that cannot be listed come back as skipped, never opened.
    /// </summary>
    public static (IReadOnlyList<string> Files, IReadOnlyList<SkippedFile> Skipped) ExpandImages(IEnumerable<string> paths)
    {
        var list = paths.ToArray();
        foreach (var path in list)
        {
            if (!File.Exists(path) && !Directory.Exists(path) && !IsLink(path))
            {
                throw CliException.DataError($"'{path}' does not exist. Pass image files or folders of images.");
            }
        }

        var listing = ImageDataset.ListFiles(list);
        var named = list.ToHashSet(StringComparer.Ordinal);
        return (listing.Files.Where(f => named.Contains(f) || !IsSidecar(f)).ToArray(), listing.Skipped);
    }

    private static bool IsLink(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget is not null;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static bool IsSidecar(string file) =>
        Path.GetExtension(file).ToLowerInvariant() is ".csv" or ".tsv" or ".txt" or ".md" or ".json";
}
