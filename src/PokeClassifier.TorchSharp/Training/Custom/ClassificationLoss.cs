using static TorchSharp.torch;

namespace PokeClassifier.Training.Custom;

/// <summary>Categorical cross-entropy on logits, with label smoothing and per-example weights (see <see cref="TrainingOptions"/>).</summary>
internal static class ClassificationLoss
{
    /// <summary>
    /// The loss of each example: <c>(1 - s) * -log p_y + s * mean_c(-log p_c)</c>, which is <c>-sum_c q_c log p_c</c> for the
    /// smoothed target <c>q = (1 - s) * onehot(y) + s / k</c>.
    /// </summary>
    /// <param name="logits">[n, k] unnormalised scores.</param>
    /// <param name="targets">[n] class indexes (int64).</param>
    /// <param name="smoothing">The label smoothing s, 0 to below 1.</param>
    /// <returns>[n] losses.</returns>
    public static Tensor PerExample(Tensor logits, Tensor targets, double smoothing)
    {
        var logProbabilities = logits.log_softmax(1);
        var negativeLogLikelihood = -logProbabilities.gather(1, targets.unsqueeze(1)).squeeze(1);
        if (smoothing == 0)
        {
            return negativeLogLikelihood;
        }

        var uniform = -logProbabilities.mean([1L]);
        return (negativeLogLikelihood * (1 - smoothing)) + (uniform * smoothing);
    }

    /// <summary>The batch loss: the mean of <see cref="PerExample"/>, weighted by <paramref name="weights"/> when given (sum of weighted losses over the sum of weights).</summary>
    /// <param name="logits">[n, k] unnormalised scores.</param>
    /// <param name="targets">[n] class indexes (int64).</param>
    /// <param name="smoothing">The label smoothing, 0 to below 1.</param>
    /// <param name="weights">[n] example weights (the class weight of each example's label), or <see langword="null"/>.</param>
    public static Tensor Mean(Tensor logits, Tensor targets, double smoothing, Tensor? weights)
    {
        var losses = PerExample(logits, targets, smoothing);
        return weights is null ? losses.mean() : (losses * weights).sum() / weights.sum();
    }

    /// <summary>
    /// The loss of a mixed batch (<see cref="BatchMixer"/>): <c>λ · Mean(own labels) + (1 − λ) · Mean(partners' labels)</c>, each
    /// example weighted by its own label's class weight in the first term and by its partner's in the second.
    /// </summary>
    /// <param name="logits">[n, k] unnormalised scores of the mixed inputs.</param>
    /// <param name="targets">[n] class indexes (int64) of the examples before mixing.</param>
    /// <param name="mixed">Who was mixed with whom, and λ.</param>
    /// <param name="smoothing">The label smoothing, 0 to below 1.</param>
    /// <param name="weights">[n] example weights, or <see langword="null"/>.</param>
    public static Tensor Mixed(Tensor logits, Tensor targets, MixedBatch mixed, double smoothing, Tensor? weights)
    {
        using var own = Mean(logits, targets, smoothing, weights);
        using var partnerTargets = targets.index_select(0, mixed.Partners);
        using var partnerWeights = weights?.index_select(0, mixed.Partners);
        using var partner = Mean(logits, partnerTargets, smoothing, partnerWeights);
        return (own * mixed.Lambda) + (partner * (1 - mixed.Lambda));
    }
}
