using System.Globalization;
using PokeClassifier.Backbones.Onnx;

namespace PokeClassifier.Backbones;

/// <summary>The catalog of known backbones, bring-your-own ONNX, and validation.</summary>
public sealed partial record BackboneSpec
{
    /// <summary>The input name the catalog's ONNX specs expect (the export commands in <c>docs/backbones.md</c> use it).</summary>
    public const string ExportInputName = "input";

    /// <summary>The feature output name the catalog's ONNX specs expect (the export commands in <c>docs/backbones.md</c> use it).</summary>
    public const string ExportOutputName = "features";

    /// <summary>
    /// The names <see cref="Pretrained"/> accepts (the command line's too): <c>densenet201</c>, <c>resnet18</c>, <c>resnet50</c>,
    /// <c>vgg16</c> (torchvision's ImageNet weights) and <c>densenet201-keras</c>, <c>vgg16-keras</c> (Keras applications' weights,
    /// the study's backbones).
    /// </summary>
    public static IReadOnlyList<string> PretrainedNames => PretrainedBackbones.Names;

    /// <summary>
    /// An ImageNet backbone whose first use downloads the published weights (torchvision's <c>.pth</c>, checked like <c>torch.hub</c>
    /// checks them by the hash prefix in the file name; or Keras applications' <c>*_notop.h5</c>, checked against the MD5 Keras
    /// publishes), converts them in-process to an ONNX graph (cached, keyed by the checkpoint's SHA-256 and the input size) and runs it
    /// with ONNX Runtime. No Python is involved. Features: DenseNet201's 1920 and ResNet's 512 / 2048 pooled values; VGG16's last
    /// pooled map, 512 x (s/32) x (s/32). Preprocessing: torch mode, except <c>vgg16-keras</c> (caffe: BGR minus the ImageNet means).
    /// </summary>
    /// <param name="name">One of <see cref="PretrainedNames"/>.</param>
    /// <param name="inputSize">The square input size: a multiple of 32, at least 32.</param>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not one of <see cref="PretrainedNames"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="inputSize"/> is not a multiple of 32 of at least 32.</exception>
    public static BackboneSpec Pretrained(string name, int inputSize = 224)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var (canonical, weights) = PretrainedBackbones.Find(name)
            ?? throw new ArgumentException($"Unknown backbone '{name}'. Known: {string.Join(", ", PretrainedNames)}.", nameof(name));
        CheckInputSize(inputSize, weights.DisplayName);
        var shape = weights.FeatureShape(inputSize);
        return new BackboneSpec
        {
            Name = SizedName(weights.DisplayName, inputSize),
            Engine = BackboneEngine.OnnxRuntime,
            Architecture = canonical,
            ModelPath = string.Empty,
            InputName = ExportInputName,
            OutputName = ExportOutputName,
            InputWidth = inputSize,
            InputHeight = inputSize,
            FeatureLength = shape.Aggregate(1, (a, d) => a * d),
            FeatureShape = shape,
            Preprocessing = weights.Preprocessing,
            WeightSources = [weights.Source],
        };
    }

    /// <summary>
    /// DenseNet201 (ImageNet) as an ONNX export: input <c>input</c> <c>[batch, 3, s, s]</c> in torch mode, output <c>features</c>
    /// <c>[batch, 1920]</c> (global-average-pooled), from torchvision (<c>classifier</c> replaced by identity) or Keras
    /// (<c>DenseNet201(include_top=False, pooling="avg")</c>, which uses the same preprocessing). The export commands are in
    /// <c>docs/backbones.md</c> and in the error raised when the file is missing.
    /// </summary>
    /// <param name="path">The exported file; <see langword="null"/> to take <c>densenet201-{s}.onnx</c> from the weight cache.</param>
    /// <param name="inputSize">The square input size s: a multiple of 32, at least 32. Smaller is faster (the cost grows with s²); the feature length stays 1920.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="inputSize"/> is not a multiple of 32 of at least 32.</exception>
    public static BackboneSpec DenseNet201Onnx(string? path = null, int inputSize = 224)
    {
        CheckInputSize(inputSize, "DenseNet201");
        var file = string.Create(CultureInfo.InvariantCulture, $"densenet201-{inputSize}.onnx");
        return OnnxSpec(SizedName("DenseNet201", inputSize), path, inputSize, [1920], ImagePreprocessing.TorchImageNet, file,
            ExportCommands.DenseNet201(inputSize, file));
    }

    /// <summary>
    /// VGG16 (ImageNet) as an ONNX export of its convolutional part: input <c>input</c> <c>[batch, 3, s, s]</c>, output <c>features</c>
    /// <c>[batch, 512, s/32, s/32]</c> — the last pooled convolutional map (512 x 7 x 7 at 224, 25,088 values flattened, as the study
    /// used it). With <see cref="PreprocessingMode.Caffe"/> (the default, as in the study) the file is a Keras export
    /// (<c>VGG16(include_top=False)</c>, file <c>vgg16-keras-{s}.onnx</c>); with <see cref="PreprocessingMode.Torch"/> a torchvision
    /// export (<c>vgg16.features</c>, file <c>vgg16-torchvision-{s}.onnx</c>).
    /// </summary>
    /// <param name="path">The exported file; <see langword="null"/> to take it from the weight cache.</param>
    /// <param name="inputSize">The square input size s: a multiple of 32, at least 32.</param>
    /// <param name="preprocessing">Which weights, and so which preprocessing: Keras (caffe) or torchvision (torch).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="inputSize"/> is not a multiple of 32 of at least 32.</exception>
    public static BackboneSpec VGG16Onnx(string? path = null, int inputSize = 224, PreprocessingMode preprocessing = PreprocessingMode.Caffe)
    {
        CheckInputSize(inputSize, "VGG16");
        var map = inputSize / 32;
        var keras = preprocessing == PreprocessingMode.Caffe;
        var file = string.Create(CultureInfo.InvariantCulture, $"vgg16-{(keras ? "keras" : "torchvision")}-{inputSize}.onnx");
        return OnnxSpec(SizedName(keras ? "VGG16 (Keras)" : "VGG16", inputSize), path, inputSize, [512, map, map],
            ImagePreprocessing.For(preprocessing), file, keras ? ExportCommands.Vgg16Keras(inputSize, file) : ExportCommands.Vgg16Torchvision(inputSize, file));
    }

    /// <summary>
    /// ResNet18 (ImageNet, torchvision) as an ONNX export at any size: input <c>input</c> <c>[batch, 3, s, s]</c> in torch mode,
    /// output <c>features</c> <c>[batch, 512]</c> (<c>fc</c> replaced by identity). <see cref="ResNet18"/> is the ready-made 224 x 224
    /// one that ships with ML.NET and needs no export.
    /// </summary>
    /// <param name="path">The exported file; <see langword="null"/> to take <c>resnet18-torchvision-{s}.onnx</c> from the weight cache.</param>
    /// <param name="inputSize">The square input size s: a multiple of 32, at least 32.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="inputSize"/> is not a multiple of 32 of at least 32.</exception>
    public static BackboneSpec ResNet18Onnx(string? path = null, int inputSize = 224)
    {
        CheckInputSize(inputSize, "ResNet18");
        var file = string.Create(CultureInfo.InvariantCulture, $"resnet18-torchvision-{inputSize}.onnx");
        return OnnxSpec(SizedName("ResNet18 (torchvision)", inputSize), path, inputSize, [512], ImagePreprocessing.TorchImageNet, file,
            ExportCommands.ResNet18Torchvision(inputSize, file));
    }

    /// <summary>
    /// DenseNet201 with torchvision's ImageNet weights (<c>densenet201-c1103571.pth</c>, downloaded and checked by <see cref="WeightStore"/>),
    /// run by TorchSharp; features: the 1920 pooled values; preprocessing: torch mode.
    /// </summary>
    /// <param name="path">A local copy of the weights; <see langword="null"/> to use the weight cache (downloading when allowed).</param>
    /// <param name="inputSize">The square input size: a multiple of 32, at least 32.</param>
    public static BackboneSpec DenseNet201Torch(string? path = null, int inputSize = 224)
    {
        CheckInputSize(inputSize, "DenseNet201");
        return TorchSpec("densenet201", path, inputSize);
    }

    /// <summary>
    /// VGG16 with torchvision's ImageNet weights (<c>vgg16-397923af.pth</c>), run by TorchSharp; features: the last pooled
    /// convolutional map, 512 x (s/32) x (s/32); preprocessing: torch mode.
    /// </summary>
    /// <param name="path">A local copy of the weights; <see langword="null"/> to use the weight cache (downloading when allowed).</param>
    /// <param name="inputSize">The square input size: a multiple of 32, at least 32.</param>
    public static BackboneSpec VGG16Torch(string? path = null, int inputSize = 224)
    {
        CheckInputSize(inputSize, "VGG16");
        return TorchSpec("vgg16", path, inputSize);
    }

    /// <summary>ResNet18 with torchvision's ImageNet weights (<c>resnet18-f37072fd.pth</c>), run by TorchSharp; features: the 512 pooled values; preprocessing: torch mode.</summary>
    /// <param name="path">A local copy of the weights; <see langword="null"/> to use the weight cache (downloading when allowed).</param>
    /// <param name="inputSize">The square input size: a multiple of 32, at least 32.</param>
    public static BackboneSpec ResNet18Torch(string? path = null, int inputSize = 224)
    {
        CheckInputSize(inputSize, "ResNet18");
        return TorchSpec("resnet18", path, inputSize);
    }

    /// <summary>
    /// Bring your own ONNX: any image model with one NCHW float input of 3 channels and a feature output. Reads the model and infers
    /// the input name and size (from its fixed dimensions; a symbolic batch is fine; symbolic height and width default to 224),
    /// the output (the only one, or <paramref name="outputName"/>) and the feature shape (from the output's dimensions, or from one
    /// trial run when they are symbolic).
    /// </summary>
    /// <param name="path">The ONNX file.</param>
    /// <param name="outputName">The feature output; required when the model has several outputs.</param>
    /// <param name="preprocessing">How pixels become the input; the default is <see cref="ImagePreprocessing.TorchImageNet"/>.</param>
    /// <exception cref="ModelLoadException">The file is missing or unreadable, or the model does not fit (the message says what was expected and what was found).</exception>
    public static BackboneSpec FromOnnx(string path, string? outputName = null, ImagePreprocessing? preprocessing = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        return OnnxModelInspector.Inspect(Path.GetFullPath(path), outputName, preprocessing ?? ImagePreprocessing.TorchImageNet);
    }

    /// <summary>Checks the spec and throws one <see cref="ArgumentException"/> listing every problem.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Name))
        {
            errors.Add($"{nameof(Name)} must not be empty.");
        }

        if (string.IsNullOrEmpty(ModelPath) && WeightSources.Count == 0)
        {
            errors.Add($"{nameof(ModelPath)} is empty and there are no {nameof(WeightSources)} to resolve it from.");
        }

        if (InputWidth < 1 || InputHeight < 1)
        {
            errors.Add($"The input size must be positive (was {InputWidth} x {InputHeight}).");
        }

        if (FeatureLength < 1)
        {
            errors.Add($"{nameof(FeatureLength)} must be positive (was {FeatureLength}).");
        }

        if (FeatureShape.Count == 0 || FeatureShape.Any(d => d < 1))
        {
            errors.Add($"{nameof(FeatureShape)} must have positive dimensions (was [{string.Join(", ", FeatureShape)}]).");
        }
        else if (FeatureShape.Aggregate(1L, (a, d) => a * d) != FeatureLength)
        {
            errors.Add($"{nameof(FeatureShape)} [{string.Join(", ", FeatureShape)}] holds {FeatureShape.Aggregate(1L, (a, d) => a * d)} values but {nameof(FeatureLength)} is {FeatureLength}.");
        }

        if (Preprocessing is null)
        {
            errors.Add($"{nameof(Preprocessing)} must be set.");
        }
        else
        {
            if (Preprocessing.Mean.Count != 3 || Preprocessing.Std.Count != 3)
            {
                errors.Add($"{nameof(Preprocessing)} needs 3 means and 3 stds (has {Preprocessing.Mean.Count} and {Preprocessing.Std.Count}).");
            }
            else if (Preprocessing.Std.Any(s => s == 0 || !float.IsFinite(s)))
            {
                errors.Add($"{nameof(Preprocessing)} stds must be finite and non-zero (were {string.Join(", ", Preprocessing.Std)}).");
            }
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException($"Invalid backbone spec '{Name}': " + string.Join(" ", errors));
        }
    }

    private static BackboneSpec OnnxSpec(string name, string? path, int size, int[] featureShape, ImagePreprocessing preprocessing, string file, string howToProduce) => new()
    {
        Name = name,
        Engine = BackboneEngine.OnnxRuntime,
        ModelPath = path is null ? string.Empty : Path.GetFullPath(path),
        InputName = ExportInputName,
        OutputName = ExportOutputName,
        InputWidth = size,
        InputHeight = size,
        FeatureLength = featureShape.Aggregate(1, (a, d) => a * d),
        FeatureShape = featureShape,
        Preprocessing = preprocessing,
        WeightSources = [new WeightSource { FileName = file, Format = WeightFormat.Onnx, HowToProduce = howToProduce }],
    };

    private static BackboneSpec TorchSpec(string architecture, string? path, int size)
    {
        var weights = PretrainedBackbones.Get(architecture);
        var featureShape = weights.FeatureShape(size);
        return new()
        {
            Name = SizedName(weights.DisplayName, size),
            Engine = BackboneEngine.TorchSharp,
            Architecture = architecture,
            ModelPath = path is null ? string.Empty : Path.GetFullPath(path),
            InputWidth = size,
            InputHeight = size,
            FeatureLength = featureShape.Aggregate(1, (a, d) => a * d),
            FeatureShape = featureShape,
            Preprocessing = weights.Preprocessing,
            WeightSources = [weights.Source],
        };
    }

    private static string SizedName(string name, int size) =>
        size == 224 ? name : string.Create(CultureInfo.InvariantCulture, $"{name} @{size}");

    private static void CheckInputSize(int inputSize, string model)
    {
        if (inputSize < 32 || inputSize % 32 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(inputSize), inputSize,
                $"{model} takes a square input whose side is a multiple of 32 and at least 32 (its five stride-2 stages divide it by 32), for example 224, 160, 128 or 96; {inputSize} is not.");
        }
    }
}
