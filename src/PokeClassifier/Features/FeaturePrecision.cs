namespace PokeClassifier.Features;

/// <summary>The arithmetic a featurizer runs its backbone in.</summary>
public enum FeaturePrecision
{
    /// <summary>32-bit floats: the backbone as it is.</summary>
    Fp32,

    /// <summary>
    /// Static int8 quantization: a QDQ copy of the backbone with per-channel int8 weights and uint8 activations whose ranges are
    /// calibrated on the user's own images (<see cref="FeaturizerOptions.CalibrationImages"/>), run by ONNX Runtime's int8 kernels.
    /// The quantized model is cached by content, so a second run does no calibration.
    /// </summary>
#pragma warning disable CA1720 // the precision's name, not a type name
    Int8,
#pragma warning restore CA1720

    /// <summary>
    /// bfloat16 matrix products (ONNX Runtime's fast-math GEMM). ONNX Runtime's CPU provider offers it only on ARM64 CPUs with the
    /// BF16 extension; elsewhere asking for it is an error that says what is missing.
    /// </summary>
    Bf16,
}

/// <summary>How int8 calibration turns the activations seen on the calibration images into a quantization range.</summary>
public enum CalibrationMethod
{
    /// <summary>The smallest and largest value seen: nothing is clipped.</summary>
    MinMax,

    /// <summary>The 0.001% and 99.999% quantiles: the rare extreme values are clipped, the rest gets finer steps (a second pass over the images).</summary>
    Percentile,
}

/// <summary>The int8 model a featurizer runs: where it is, what it was calibrated on, and whether this run calibrated it.</summary>
public sealed record QuantizationInfo
{
    /// <summary>The quantized (QDQ) ONNX model, in the cache.</summary>
    public required string ModelPath { get; init; }

    /// <summary>The calibration method.</summary>
    public required CalibrationMethod Method { get; init; }

    /// <summary>The calibration images that were used (distinct contents that decoded).</summary>
    public required int CalibrationImages { get; init; }

    /// <summary>Calibration images that could not be used, with the reason.</summary>
    public IReadOnlyList<Data.SkippedFile> Skipped { get; init; } = [];

    /// <summary>Whether the quantized model came from the cache (no calibration ran).</summary>
    public required bool FromCache { get; init; }

    /// <summary>Time spent hashing the calibration images and calibrating (or finding the cached model).</summary>
    public required TimeSpan Duration { get; init; }

    /// <inheritdoc />
    public override string ToString() =>
        $"int8 ({Method}, {CalibrationImages} calibration images{(Skipped.Count > 0 ? $", {Skipped.Count} skipped" : string.Empty)}, {(FromCache ? "from the cache" : "calibrated")} in {Duration.TotalSeconds:0.0} s): {ModelPath}";
}
