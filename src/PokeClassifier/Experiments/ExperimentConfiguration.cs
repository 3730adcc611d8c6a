using PokeClassifier.Backbones;
using PokeClassifier.Training;

namespace PokeClassifier.Experiments;

/// <summary>
/// One configuration of an <see cref="Experiment"/>: a name, a backbone and a head (training path and options).
/// Configurations that share a backbone share its featurization.
/// </summary>
public sealed record ExperimentConfiguration
{
    /// <summary>The name shown in reports; unique within an experiment.</summary>
    public required string Name { get; init; }

    /// <summary>The backbone that turns images into features.</summary>
    public required BackboneSpec Backbone { get; init; }

    /// <summary>What is trained on top of the backbone.</summary>
    public required HeadConfiguration Head { get; init; }

    /// <summary>
    /// A local weights file for the backbone, verified against the spec's checksums (see <see cref="WeightStore.ResolveAsync(BackboneSpec, string?, IProgress{DownloadProgress}?, CancellationToken)"/>);
    /// <see langword="null"/> to use the spec's own path, the weight cache or a download.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? WeightsPath { get; init; }

    /// <summary>A configuration named <c>backbone + head</c>, for example <c>ResNet18 + ML.NET LbfgsMaximumEntropy</c>.</summary>
    public static ExperimentConfiguration Of(BackboneSpec backbone, HeadConfiguration head)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        ArgumentNullException.ThrowIfNull(head);
        return new ExperimentConfiguration { Name = $"{backbone.Name} + {head.Description}", Backbone = backbone, Head = head };
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({Backbone.Name}, {Head.Description})";
}
