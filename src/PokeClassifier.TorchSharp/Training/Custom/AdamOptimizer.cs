using System.Numerics;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace PokeClassifier.Training.Custom;

/// <summary>
/// Adam (Kingma and Ba; PyTorch's <c>torch.optim.Adam</c> update with L2 <c>weight_decay</c>) over parameter groups, as one fused
/// pass over each parameter's memory. TorchSharp's Adam is a chain of tensor operations: eight passes over every parameter-sized
/// tensor and two temporary copies per step. On the study's VGG16 head (6.4 M weights in its first dense layer) that memory traffic,
/// not the matrix products, was most of a training step; one SIMD pass that reads the parameter, its gradient and the two moments
/// and writes them back moves a third of the bytes.
/// </summary>
/// <remarks>
/// The fused pass serves contiguous float32 parameters on the CPU (those of every module here are); gradients that are not contiguous
/// are copied first, and those moments live in managed arrays. Any other parameter — on a GPU, or of another type — is updated by the
/// same formula in TorchSharp tensor operations on its own device, its moments tensors beside it (what <c>torch.optim.Adam</c> does). The update of each element is
/// <c>m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g²; p -= lr / (1 - b1^t) · m / (sqrt(v) / sqrt(1 - b2^t) + eps)</c>, with
/// <c>g</c> the gradient plus <c>weight_decay · p</c> and <c>t</c> the parameter's own step count.
/// </remarks>
internal sealed class AdamOptimizer : IDisposable
{
    private readonly Slot[][] _slots;

    /// <param name="groups">The parameter groups.</param>
    /// <param name="beta1">Decay of the running mean of gradients.</param>
    /// <param name="beta2">Decay of the running mean of squared gradients.</param>
    /// <param name="epsilon">Added to the denominator.</param>
    /// <param name="weightDecay">Weight decay of groups that set none.</param>
    /// <param name="decoupled">AdamW (Loshchilov and Hutter): the weights shrink by <c>lr · weight_decay</c> each step, apart from the
    /// gradient's moments; otherwise the decay is an L2 term added to the gradient, as PyTorch's <c>Adam</c>.</param>
    /// <param name="fuse">Whether CPU float32 parameters take the fused pass (the default); <see langword="false"/> updates every
    /// parameter with tensor operations, as on a GPU (for the test that compares the two).</param>
    public AdamOptimizer(IReadOnlyList<ParameterGroup> groups, double beta1, double beta2, double epsilon, double weightDecay, bool decoupled = false, bool fuse = true)
    {
        Decoupled = decoupled;
        ArgumentNullException.ThrowIfNull(groups);
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = epsilon;
        Groups = groups;
        LearningRates = groups.Select(g => g.LearningRate).ToArray();
        WeightDecays = groups.Select(g => g.WeightDecay ?? weightDecay).ToArray();
        _slots = groups.Select(g => g.Parameters.Select(p => new Slot(p, fuse)).ToArray()).ToArray();
    }

    public IReadOnlyList<ParameterGroup> Groups { get; }

    /// <summary>The learning rate of each group for the next steps (the schedule sets them every epoch).</summary>
    public double[] LearningRates { get; }

    public double[] WeightDecays { get; }

    public double Beta1 { get; }

    public double Beta2 { get; }

    public double Epsilon { get; }

    /// <summary>Whether weight decay is decoupled from the gradient (AdamW).</summary>
    public bool Decoupled { get; }

    /// <summary>Clears every gradient (sets it to zero), as <c>optimizer.zero_grad()</c>.</summary>
    public void ZeroGrad()
    {
        using var scope = NewDisposeScope();
        foreach (var slot in _slots.SelectMany(s => s))
        {
            slot.Parameter.grad?.zero_();
        }
    }

    /// <summary>One update of every parameter that has a gradient.</summary>
    public void Step()
    {
        using var scope = NewDisposeScope();
        for (var g = 0; g < _slots.Length; g++)
        {
            foreach (var slot in _slots[g])
            {
                var grad = slot.Parameter.grad;
                if (grad is null)
                {
                    continue;
                }

                slot.Steps++;
                if (slot.Fused is null)
                {
                    StepWithTensors(slot, grad, g);
                    continue;
                }

                if (!grad.is_contiguous())
                {
                    grad = grad.contiguous();
                }

                var decay = (float)WeightDecays[g];
                if (Decoupled && decay != 0)
                {
                    // AdamW: p -= lr * wd * p, before the Adam step, which then sees no decay term.
                    Scale(MemoryMarshal.Cast<byte, float>(slot.Parameter.bytes), (float)(1 - (LearningRates[g] * decay)));
                    decay = 0;
                }

                var biasCorrection1 = 1 - Math.Pow(Beta1, slot.Steps);
                var biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, slot.Steps));
                Update(
                    MemoryMarshal.Cast<byte, float>(slot.Parameter.bytes),
                    MemoryMarshal.Cast<byte, float>(grad.bytes),
                    slot.Fused.Value.Mean,
                    slot.Fused.Value.Variance,
                    (float)Beta1,
                    (float)Beta2,
                    (float)(LearningRates[g] / biasCorrection1),
                    (float)(1 / biasCorrection2Sqrt),
                    (float)Epsilon,
                    decay);
            }
        }
    }

    /// <summary>The same update as the fused pass in tensor operations on the parameter's device (no graph is recorded).</summary>
    private void StepWithTensors(Slot slot, Tensor grad, int group)
    {
        using var noGrad = no_grad();
        var (p, mean, variance) = (slot.Parameter, slot.Tensors!.Value.Mean, slot.Tensors!.Value.Variance);
        var decay = WeightDecays[group];
        if (Decoupled && decay != 0)
        {
            p.mul_(1 - (LearningRates[group] * decay));
            decay = 0;
        }

        var g = decay == 0 ? grad : grad.add(p, decay);
        mean.mul_(Beta1).add_(g, 1 - Beta1);
        variance.mul_(Beta2).addcmul_(g, g, 1 - Beta2);
        var denominator = variance.sqrt().mul_(1 / Math.Sqrt(1 - Math.Pow(Beta2, slot.Steps))).add_(Epsilon);
        p.addcdiv_(mean, denominator, -(LearningRates[group] / (1 - Math.Pow(Beta1, slot.Steps))));
    }

    /// <summary>Frees the moments kept as tensors (on a GPU, device memory); the fused pass's arrays need nothing.</summary>
    public void Dispose()
    {
        foreach (var slot in _slots.SelectMany(s => s))
        {
            slot.Tensors?.Mean.Dispose();
            slot.Tensors?.Variance.Dispose();
        }
    }

    /// <summary>Writes every moment and step count (for a checkpoint); moments kept as tensors are written from a CPU copy.</summary>
    public void Write(BinaryWriter writer)
    {
        foreach (var slot in _slots.SelectMany(s => s))
        {
            writer.Write(slot.Steps);
            var (mean, variance) = slot.Moments();
            writer.Write(mean.Length);
            writer.Write(MemoryMarshal.AsBytes(mean.AsSpan()));
            writer.Write(MemoryMarshal.AsBytes(variance.AsSpan()));
        }
    }

    /// <summary>Reads what <see cref="Write"/> wrote, for the same parameters.</summary>
    public void Read(BinaryReader reader)
    {
        foreach (var slot in _slots.SelectMany(s => s))
        {
            slot.Steps = reader.ReadInt64();
            var length = reader.ReadInt32();
            var count = slot.Parameter.numel();
            if (length != count)
            {
                throw new InvalidDataException($"The checkpoint's optimizer state holds {length} values for a parameter of {count}.");
            }

            var mean = new float[length];
            var variance = new float[length];
            reader.ReadExactly(MemoryMarshal.AsBytes(mean.AsSpan()));
            reader.ReadExactly(MemoryMarshal.AsBytes(variance.AsSpan()));
            slot.SetMoments(mean, variance);
        }
    }

    private static void Scale(Span<float> values, float factor)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated && values.Length >= Vector<float>.Count)
        {
            var v = MemoryMarshal.Cast<float, Vector<float>>(values);
            for (var k = 0; k < v.Length; k++)
            {
                v[k] *= factor;
            }

            i = v.Length * Vector<float>.Count;
        }

        for (; i < values.Length; i++)
        {
            values[i] *= factor;
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
        public Slot(TorchSharp.Modules.Parameter parameter, bool fuse)
        {
            Parameter = parameter;
            if (fuse && parameter.dtype == ScalarType.Float32 && parameter.device_type == TorchSharp.DeviceType.CPU && parameter.is_contiguous())
            {
                Fused = (new float[parameter.numel()], new float[parameter.numel()]);
            }
            else
            {
                // Outside every dispose scope: the moments live as long as the optimizer's parameters.
                Tensors = (zeros_like(parameter).DetachFromDisposeScope(), zeros_like(parameter).DetachFromDisposeScope());
            }
        }

        public TorchSharp.Modules.Parameter Parameter { get; }

        /// <summary>The moments of the fused pass, or <see langword="null"/> when the parameter is updated with tensors.</summary>
        public (float[] Mean, float[] Variance)? Fused { get; }

        /// <summary>The moments as tensors on the parameter's device, or <see langword="null"/> for the fused pass.</summary>
        public (Tensor Mean, Tensor Variance)? Tensors { get; }

        public long Steps { get; set; }

        /// <summary>Both moments as float32 values (copied from the device for tensors).</summary>
        public (float[] Mean, float[] Variance) Moments()
        {
            if (Fused is { } fused)
            {
                return fused;
            }

            using var scope = NewDisposeScope();
            var (mean, variance) = Tensors!.Value;
            return (mean.to_type(ScalarType.Float32).cpu().data<float>().ToArray(), variance.to_type(ScalarType.Float32).cpu().data<float>().ToArray());
        }

        public void SetMoments(float[] mean, float[] variance)
        {
            if (Fused is { } fused)
            {
                mean.CopyTo(fused.Mean, 0);
                variance.CopyTo(fused.Variance, 0);
                return;
            }

            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var (m, v) = Tensors!.Value;
            m.copy_(tensor(mean).reshape(m.shape));
            v.copy_(tensor(variance).reshape(v.shape));
        }
    }
}
