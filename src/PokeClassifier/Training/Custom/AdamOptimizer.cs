using System.Numerics;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace PokeClassifier.Training;

/// <summary>
/// Adam (Kingma and Ba; PyTorch's <c>torch.optim.Adam</c> update with L2 <c>weight_decay</c>) over parameter groups, as one fused
/// pass over each parameter's memory. TorchSharp's Adam is a chain of tensor operations: eight passes over every parameter-sized
/// tensor and two temporary copies per step. On the study's VGG16 head (6.4 M weights in its first dense layer) that memory traffic,
/// not the matrix products, was most of a training step; one SIMD pass that reads the parameter, its gradient and the two moments
/// and writes them back moves a third of the bytes.
/// </summary>
/// <remarks>
/// Parameters must be contiguous float32 tensors on the CPU (those of every module here are); gradients that are not contiguous are
/// copied first. The moments live in managed arrays, so the optimizer owns no native memory. The update of each element is
/// <c>m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g²; p -= lr / (1 - b1^t) · m / (sqrt(v) / sqrt(1 - b2^t) + eps)</c>, with
/// <c>g</c> the gradient plus <c>weight_decay · p</c> and <c>t</c> the parameter's own step count. Parameters on a GPU (or not
/// contiguous float32) fall back to TorchSharp's own Adam (<c>torch.optim.Adam</c>, the same update) over the same groups.
/// </remarks>
internal sealed class AdamOptimizer
{
    private readonly Slot[][] _slots;
    private readonly TorchSharp.Modules.Adam? _torch;

    /// <param name="groups">The parameter groups.</param>
    /// <param name="beta1">Adam's first-moment decay.</param>
    /// <param name="beta2">Adam's second-moment decay.</param>
    /// <param name="epsilon">Adam's epsilon.</param>
    /// <param name="weightDecay">L2 penalty of groups that set none.</param>
    /// <param name="useTorch">Use TorchSharp's Adam even for CPU parameters (the equivalence test); it is used anyway when a parameter is not a contiguous float32 CPU tensor.</param>
    public AdamOptimizer(IReadOnlyList<ParameterGroup> groups, double beta1, double beta2, double epsilon, double weightDecay, bool useTorch = false)
    {
        ArgumentNullException.ThrowIfNull(groups);
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        Groups = groups;
        LearningRates = groups.Select(g => g.LearningRate).ToArray();
        WeightDecays = groups.Select(g => g.WeightDecay ?? weightDecay).ToArray();
        if (useTorch || groups.SelectMany(g => g.Parameters).Any(p => !Slot.Fits(p)))
        {
            _slots = [];
            _torch = TorchSharp.torch.optim.Adam(
                groups.Select((g, i) => new TorchSharp.Modules.Adam.ParamGroup(g.Parameters, lr: LearningRates[i], beta1: beta1, beta2: beta2, eps: epsilon, weight_decay: WeightDecays[i])),
                lr: LearningRates.Length > 0 ? LearningRates[0] : 1e-3, beta1: beta1, beta2: beta2, eps: epsilon, weight_decay: weightDecay);
            return;
        }

        _slots = groups.Select(g => g.Parameters.Select(p => new Slot(p)).ToArray()).ToArray();
    }

    /// <summary>Whether the update runs in TorchSharp's Adam (GPU parameters) rather than the fused CPU pass.</summary>
    public bool UsesTorchAdam => _torch is not null;

    public IReadOnlyList<ParameterGroup> Groups { get; }

    /// <summary>The learning rate of each group for the next steps (the schedule sets them every epoch).</summary>
    public double[] LearningRates { get; }

    public double[] WeightDecays { get; }

    public double Beta1 { get; }

    public double Beta2 { get; }

    public double Epsilon { get; }

    /// <summary>Clears every gradient (sets it to zero), as <c>optimizer.zero_grad()</c>.</summary>
    public void ZeroGrad()
    {
        using var scope = NewDisposeScope();
        if (_torch is not null)
        {
            _torch.zero_grad();
            return;
        }

        foreach (var slot in _slots.SelectMany(s => s))
        {
            slot.Parameter.grad?.zero_();
        }
    }

    /// <summary>One update of every parameter that has a gradient.</summary>
    public void Step()
    {
        using var scope = NewDisposeScope();
        if (_torch is not null)
        {
            var g = 0;
            foreach (var group in _torch.ParamGroups)
            {
                group.LearningRate = LearningRates[g++];
            }

            _torch.step();
            return;
        }

        for (var g = 0; g < _slots.Length; g++)
        {
            foreach (var slot in _slots[g])
            {
                var grad = slot.Parameter.grad;
                if (grad is null)
                {
                    continue;
                }

                if (!grad.is_contiguous())
                {
                    grad = grad.contiguous();
                }

                slot.Steps++;
                var biasCorrection1 = 1 - Math.Pow(Beta1, slot.Steps);
                var biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, slot.Steps));
                Update(
                    MemoryMarshal.Cast<byte, float>(slot.Parameter.bytes),
                    MemoryMarshal.Cast<byte, float>(grad.bytes),
                    slot.Mean,
                    slot.Variance,
                    (float)Beta1,
                    (float)Beta2,
                    (float)(LearningRates[g] / biasCorrection1),
                    (float)(1 / biasCorrection2Sqrt),
                    (float)Epsilon,
                    (float)WeightDecays[g]);
            }
        }
    }

    /// <summary>The fused update over one parameter's values (public for the equivalence test).</summary>
    internal static void Update(Span<float> parameter, ReadOnlySpan<float> gradient, Span<float> mean, Span<float> variance, float beta1, float beta2, float stepSize, float inverseBiasCorrection2Sqrt, float epsilon, float weightDecay)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated && parameter.Length >= Vector<float>.Count)
        {
            var pv = MemoryMarshal.Cast<float, Vector<float>>(parameter);
            var gv = MemoryMarshal.Cast<float, Vector<float>>(gradient);
            var mv = MemoryMarshal.Cast<float, Vector<float>>(mean);
            var vv = MemoryMarshal.Cast<float, Vector<float>>(variance);
            var b1 = new Vector<float>(beta1);
            var c1 = new Vector<float>(1 - beta1);
            var b2 = new Vector<float>(beta2);
            var c2 = new Vector<float>(1 - beta2);
            var step = new Vector<float>(stepSize);
            var bc2 = new Vector<float>(inverseBiasCorrection2Sqrt);
            var eps = new Vector<float>(epsilon);
            var decay = new Vector<float>(weightDecay);
            for (var k = 0; k < pv.Length; k++)
            {
                var g = weightDecay == 0 ? gv[k] : gv[k] + (decay * pv[k]);
                var m = (b1 * mv[k]) + (c1 * g);
                var v = (b2 * vv[k]) + (c2 * g * g);
                mv[k] = m;
                vv[k] = v;
                pv[k] -= step * m / ((Vector.SquareRoot(v) * bc2) + eps);
            }

            i = pv.Length * Vector<float>.Count;
        }

        for (; i < parameter.Length; i++)
        {
            var g = gradient[i] + (weightDecay * parameter[i]);
            var m = (beta1 * mean[i]) + ((1 - beta1) * g);
            var v = (beta2 * variance[i]) + ((1 - beta2) * g * g);
            mean[i] = m;
            variance[i] = v;
            parameter[i] -= stepSize * m / ((MathF.Sqrt(v) * inverseBiasCorrection2Sqrt) + epsilon);
        }
    }

    private sealed class Slot
    {
        public Slot(TorchSharp.Modules.Parameter parameter)
        {
            if (!Fits(parameter))
            {
                throw new NotSupportedException($"Adam here updates contiguous float32 CPU parameters; a parameter of shape [{string.Join(",", parameter.shape)}] is {parameter.dtype} on {parameter.device_type}{(parameter.is_contiguous() ? string.Empty : ", not contiguous")}.");
            }

            Parameter = parameter;
            Mean = new float[parameter.numel()];
            Variance = new float[parameter.numel()];
        }

        public TorchSharp.Modules.Parameter Parameter { get; }

        public static bool Fits(TorchSharp.Modules.Parameter parameter) =>
            parameter.dtype == ScalarType.Float32 && parameter.device_type == TorchSharp.DeviceType.CPU && parameter.is_contiguous();

        public float[] Mean { get; }

        public float[] Variance { get; }

        public long Steps { get; set; }
    }
}
