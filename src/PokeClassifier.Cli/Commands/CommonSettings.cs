using PokeClassifier.Backbones;
using System.ComponentModel;
using System.Globalization;
using PokeClassifier.Data;
using PokeClassifier.Features;
using Spectre.Console.Cli;

namespace PokeClassifier.Cli.Commands;

/// <summary>Options every command takes.</summary>
internal class CommonSettings : CommandSettings
{
    [CommandOption("-v|--verbose")]
    [Description("Print the full exception (stack trace) when something fails.")]
    public bool Verbose { get; init; }
}

/// <summary>Options of the commands that featurize images.</summary>
internal class FeaturizingSettings : CommonSettings
{
    [CommandOption("--cache <DIR>")]
    [Description("Feature cache folder. Default: $POKECLASSIFIER_CACHE/features or ~/.cache/pokeclassifier/features.")]
    public string? Cache { get; init; }

    [CommandOption("--no-cache")]
    [Description("Do not read or write the feature cache.")]
    public bool NoCache { get; init; }

    [CommandOption("--parallelism <N>")]
    [Description("ONNX Runtime sessions side by side. Default: the number of cores.")]
    public int? Parallelism { get; init; }

    [CommandOption("--device <DEVICE>")]
    [Description("Where the backbone runs, and the TorchSharp heads and fine-tuning train: cpu, cuda or cuda:N (needs the GPU ONNX Runtime and, to train, a CUDA libtorch in the tool; see docs/benchmarks.md).")]
    [DefaultValue("cpu")]
    public string Device { get; init; } = "cpu";

    [CommandOption("--precision <P>")]
    [Description("Backbone arithmetic: fp32 (default), int8 (static quantization calibrated on up to 300 of the training images, cached), or bf16 (where ONNX Runtime and the CPU have it).")]
    public string? Precision { get; init; }

    /// <summary><c>--device</c>, parsed.</summary>
    public ComputeDevice ParsedDevice()
    {
        try
        {
            return ComputeDevice.Parse(Device);
        }
        catch (FormatException e)
        {
            throw CliException.Usage($"--device {e.Message}");
        }
    }

    /// <summary>The featurizer options; <paramref name="warning"/> receives the one warning of a cache that cannot be written.</summary>
    public FeaturizerOptions FeaturizerOptions(Action<string>? warning = null)
    {
        var device = ParsedDevice();
        return new()
        {
            UseCache = !NoCache,
            CacheDirectory = NoCache ? null : Cache,
            Parallelism = Parallelism ?? (device.Kind == DeviceKind.Cuda ? 1 : Environment.ProcessorCount),
            CacheWarning = warning,
            Device = device,
            Precision = ParsePrecision(Precision) ?? FeaturePrecision.Fp32,
        };
    }

    internal static FeaturePrecision? ParsePrecision(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null => null,
        "fp32" or "float32" => FeaturePrecision.Fp32,
        "int8" => FeaturePrecision.Int8,
        "bf16" or "bfloat16" => FeaturePrecision.Bf16,
        _ => throw CliException.Usage($"--precision '{value}' is not one of fp32, int8, bf16"),
    };

    public override Spectre.Console.ValidationResult Validate()
    {
        if (NoCache && Cache is not null)
        {
            return Spectre.Console.ValidationResult.Error("--cache and --no-cache cannot be used together");
        }

        if (Precision is not null && Precision.Trim().ToLowerInvariant() is not ("fp32" or "float32" or "int8" or "bf16" or "bfloat16"))
        {
            return Spectre.Console.ValidationResult.Error($"--precision '{Precision}' is not one of fp32, int8, bf16");
        }

        return Parallelism is < 1 ? Spectre.Console.ValidationResult.Error("--parallelism must be at least 1") : base.Validate();
    }
}

/// <summary>Options of the commands that load a dataset and split it.</summary>
internal class DataSettings : FeaturizingSettings
{
    /// <summary>The split used when neither --split, --split-file nor --train/--test is given.</summary>
    public const string DefaultSplit = "0.75,0,0.25";

    [CommandArgument(0, "[data]")]
    [Description("A folder with one sub-folder per class, or a manifest .csv (columns path and label, optionally group and id). Not used with --train/--test.")]
    public string? Data { get; init; }

    [CommandOption("--classes <LIST>")]
    [Description("Use only these classes (comma-separated labels).")]
    public string? Classes { get; init; }

    [CommandOption("--seed <N>")]
    [Description("Seed of the split and the training: same seed, same numbers.")]
    [DefaultValue(42)]
    public int Seed { get; init; } = 42;

    [CommandOption("--split <FRACTIONS>")]
    [Description("Train, validation and test fractions, e.g. 0.8,0,0.2 (stratified; group-aware when the manifest has groups). Default: 0.75,0,0.25.")]
    public string? Split { get; init; }

    [CommandOption("--split-file <FILE>")]
    [Description("A fixed split: a CSV with columns path and split (train, validation, test), optionally class; paths relative to the data folder (or the manifest's folder).")]
    public string? SplitFile { get; init; }

    [CommandOption("--train <DIR>")]
    [Description("A fixed split, Kaggle style: the training images (a folder with one sub-folder per class, or a manifest .csv). Use with --test, without <data>.")]
    public string? TrainData { get; init; }

    [CommandOption("--test <DIR>")]
    [Description("The test images of a fixed split (same classes as --train, or fewer). Use with --train.")]
    public string? TestData { get; init; }

    /// <summary>Whether the split is given (a split file or train/test folders) rather than drawn.</summary>
    public bool FixedSplit => SplitFile is not null || TrainData is not null;

    /// <summary>What the data is called in reports: the data argument, or the train folder.</summary>
    public string DataName => Data ?? TrainData ?? string.Empty;

    public SplitOptions SplitOptions()
    {
        var text = Split ?? DefaultSplit;
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var values = parts.Select(p => double.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN).ToArray();
        if (values.Length != 3 || values.Any(double.IsNaN))
        {
            throw CliException.Usage($"--split '{text}' is not three comma-separated fractions (train,validation,test), e.g. 0.8,0,0.2");
        }

        var options = new SplitOptions { TrainFraction = values[0], ValidationFraction = values[1], TestFraction = values[2], Seed = Seed, SmallClasses = SmallClassPolicy.TrainOnly };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw CliException.Usage($"--split '{text}': {e.Message}");
        }

        return options;
    }

    [CommandOption("--offline")]
    [Description("Never download backbone weights (also: POKECLASSIFIER_OFFLINE=1); a backbone whose weights are not cached is an error that says where to put them.")]
    public bool Offline { get; init; }

    [CommandOption("--weights-cache <DIR>")]
    [Description("Folder of downloaded and converted backbone weights (default: weights/ under the cache root, ~/.cache/pokeclassifier).")]
    public string? WeightsCache { get; init; }

    [CommandOption("--mirror <URL>")]
    [Description("Download backbone weights from this base URL (a mirror serving the files under their own names) instead of their publishers' (also: POKECLASSIFIER_WEIGHTS_MIRROR).")]
    public string? Mirror { get; init; }

    [CommandOption("--download-timeout <SECONDS>")]
    [Description("The longest silence from a weights server (to connect, answer, or send the next bytes) before the attempt fails.")]
    [DefaultValue(100)]
    public int DownloadTimeout { get; init; } = 100;

    public WeightStoreOptions WeightStoreOptions()
    {
        if (DownloadTimeout < 1)
        {
            throw CliException.Usage("--download-timeout must be at least 1 second.");
        }

        Uri? mirror = null;
        if (Mirror is not null && (!Uri.TryCreate(Mirror.EndsWith('/') ? Mirror : Mirror + "/", UriKind.Absolute, out mirror) || mirror.Scheme is not ("http" or "https")))
        {
            throw CliException.Usage($"--mirror '{Mirror}' is not an http or https URL.");
        }

        return new WeightStoreOptions { AllowDownload = !Offline, CacheDirectory = WeightsCache, Mirror = mirror, Timeout = TimeSpan.FromSeconds(DownloadTimeout) };
    }

    public IReadOnlyList<string>? ClassList() => Classes?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    public override Spectre.Console.ValidationResult Validate()
    {
        if ((TrainData is null) != (TestData is null))
        {
            return Spectre.Console.ValidationResult.Error("--train and --test go together: pass both folders");
        }

        if (TrainData is not null && Data is not null)
        {
            return Spectre.Console.ValidationResult.Error("pass either <data> or --train/--test, not both");
        }

        if (TrainData is null && Data is null)
        {
            return Spectre.Console.ValidationResult.Error("no data: pass a folder or manifest .csv, or --train DIR --test DIR");
        }

        if (SplitFile is not null && TrainData is not null)
        {
            return Spectre.Console.ValidationResult.Error("--split-file and --train/--test both fix the split: pass one of them");
        }

        return FixedSplit && Split is not null
            ? Spectre.Console.ValidationResult.Error($"--split draws a split; it cannot be combined with {(SplitFile is not null ? "--split-file" : "--train/--test")}")
            : base.Validate();
    }
}
