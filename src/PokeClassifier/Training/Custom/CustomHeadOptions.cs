using System.Globalization;

namespace PokeClassifier.Training.Custom;

/// <summary>The architecture of a head trained through TorchSharp (<see cref="CustomHeadOptions.Kind"/>).</summary>
public enum CustomHeadKind
{
    /// <summary>
    /// Global average pooling, then one dense softmax layer: the study's DenseNet201 head. A spatial feature map [C, H, W] is
    /// averaged over H and W first; on pooled features [C] the head is a single dense layer (multinomial logistic regression).
    /// </summary>
    GlobalAveragePoolDense,

    /// <summary>
    /// Flatten, a 256-unit ReLU layer, then a dense softmax layer: the study's VGG16 head. A feature map [C, H, W] is flattened to
    /// C x H x W values (25,088 for VGG16's 512 x 7 x 7); pooled features [C] stay as they are.
    /// </summary>
    FlattenDense256,

    /// <summary>
    /// Flatten, then one ReLU layer per entry of <see cref="CustomHeadOptions.HiddenSizes"/>, each followed by dropout
    /// (<see cref="CustomHeadOptions.Dropout"/>), then a dense softmax layer.
    /// </summary>
    Mlp,
}

/// <summary>
/// The head of the TorchSharp transfer path: its architecture. Dense layers start from Glorot-uniform weights and zero biases
/// (Keras's defaults, the study's framework), drawn from the run's seed. The softmax is applied when scoring; training works on
/// the logits (see <see cref="TrainingOptions"/>).
/// </summary>
public sealed class CustomHeadOptions
{
    /// <summary>The architecture.</summary>
    /// <value>The default is <see cref="CustomHeadKind.GlobalAveragePoolDense"/> (the study's DenseNet201 head).</value>
    public CustomHeadKind Kind { get; init; } = CustomHeadKind.GlobalAveragePoolDense;

    /// <summary>Units of each hidden ReLU layer of an <see cref="CustomHeadKind.Mlp"/> head, input side first. Ignored by the other kinds.</summary>
    /// <value>The default is one layer of 256 units.</value>
    public IReadOnlyList<int> HiddenSizes { get; init; } = [256];

    /// <summary>
    /// The probability of zeroing each hidden unit during training (inverted dropout; nothing is dropped when scoring) in an
    /// <see cref="CustomHeadKind.Mlp"/> head. Ignored by the other kinds. 0 turns dropout off.
    /// </summary>
    /// <value>The default is 0.5 (the classic Keras transfer-learning head: Dense(256, ReLU), Dropout(0.5), softmax).</value>
    public double Dropout { get; init; } = 0.5;

    /// <summary>The study's DenseNet201 head: global average pooling, then a dense softmax layer.</summary>
    public static CustomHeadOptions GlobalAveragePoolDense() => new() { Kind = CustomHeadKind.GlobalAveragePoolDense };

    /// <summary>The study's VGG16 head: flatten, Dense(256, ReLU), then a dense softmax layer.</summary>
    public static CustomHeadOptions FlattenDense256() => new() { Kind = CustomHeadKind.FlattenDense256 };

    /// <summary>A multi-layer perceptron: flatten, then ReLU layers of <paramref name="hiddenSizes"/> units with dropout, then softmax.</summary>
    /// <param name="dropout">The dropout probability after each hidden layer.</param>
    /// <param name="hiddenSizes">Units per hidden layer, input side first.</param>
    public static CustomHeadOptions Mlp(double dropout, params int[] hiddenSizes)
    {
        ArgumentNullException.ThrowIfNull(hiddenSizes);
        return new() { Kind = CustomHeadKind.Mlp, HiddenSizes = [.. hiddenSizes], Dropout = dropout };
    }

    /// <summary>A short description for reports, such as <c>FlattenDense256</c> or <c>Mlp(512-256, dropout 0.5)</c>.</summary>
    public string Describe() => Kind == CustomHeadKind.Mlp
        ? string.Create(CultureInfo.InvariantCulture, $"Mlp({string.Join("-", HiddenSizes)}, dropout {Dropout:0.###})")
        : Kind.ToString();

    /// <summary>Checks every option and throws one <see cref="ArgumentException"/> listing every problem.</summary>
    public void Validate()
    {
        var problems = Problems();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid custom head options: " + string.Join(" ", problems));
        }
    }

    /// <inheritdoc />
    public override string ToString() => Describe();

    internal List<string> Problems()
    {
        var errors = new List<string>();
        if (!Enum.IsDefined(Kind))
        {
            errors.Add($"{nameof(Kind)} {(int)Kind} is not a known head.");
        }

        if (Kind == CustomHeadKind.Mlp)
        {
            if (HiddenSizes is null || HiddenSizes.Count == 0)
            {
                errors.Add($"{nameof(HiddenSizes)} must name at least one hidden layer for an Mlp head.");
            }
            else if (HiddenSizes.Any(h => h < 1))
            {
                errors.Add($"{nameof(HiddenSizes)} must all be at least 1 (were {string.Join(", ", HiddenSizes)}).");
            }

            if (double.IsNaN(Dropout) || Dropout < 0 || Dropout >= 1)
            {
                errors.Add(string.Create(CultureInfo.InvariantCulture, $"{nameof(Dropout)} must be at least 0 and below 1 (was {Dropout})."));
            }
        }

        return errors;
    }
}
