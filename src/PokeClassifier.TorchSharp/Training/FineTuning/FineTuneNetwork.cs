using PokeClassifier.Backbones.Torch;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PokeClassifier.Training.FineTuning;

/// <summary>
/// The network fine-tuning trains: the backbone graph from its cut on, then the head. Its input is either the image batch (the frozen
/// part then runs first, under <c>no_grad</c>) or, with cached activations, the tensor that crosses the cut.
/// </summary>
internal sealed class FineTuneNetwork : Module<Tensor, Tensor>
{
    private readonly OnnxGraphModule _backbone;
    private readonly Module<Tensor, Tensor> _head;
    private readonly int _cut;
    private readonly string? _frontier;
    private readonly bool _batchNormStatistics;

    /// <param name="backbone">The imported backbone, with <see cref="OnnxGraphModule.SetTrainableFrom"/> already set to <paramref name="cut"/>.</param>
    /// <param name="head">The head: features [n, ...] to logits [n, classes].</param>
    /// <param name="cut">The first trained node.</param>
    /// <param name="inputIsFrontier">Whether inputs are the activations at the cut rather than images.</param>
    /// <param name="batchNormStatistics">Whether trained batch norms use batch statistics in training mode.</param>
    public FineTuneNetwork(OnnxGraphModule backbone, Module<Tensor, Tensor> head, int cut, bool inputIsFrontier, bool batchNormStatistics)
        : base(nameof(FineTuneNetwork))
    {
        _backbone = backbone;
        _head = head;
        _cut = cut;
        _frontier = inputIsFrontier ? backbone.Frontier(cut).Single() : null;
        _batchNormStatistics = batchNormStatistics;
        register_module("backbone", backbone);
        register_module("head", head);
    }

    /// <summary>The trained backbone parameters (those of nodes from the cut on).</summary>
    public IReadOnlyList<TorchSharp.Modules.Parameter> BackboneParameters => _backbone.ParametersOf(_cut, _backbone.NodeCount).ToArray();

    /// <summary>The head's parameters.</summary>
    public IReadOnlyList<TorchSharp.Modules.Parameter> HeadParameters => _head.parameters().ToArray();

    /// <summary>Training mode: the head trains (dropout on); the backbone stays in eval mode except, when asked, its trained batch norms.</summary>
    public void EnterTraining()
    {
        _head.train();
        _backbone.SetMode(_batchNormStatistics);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        Tensor features;
        if (_frontier is not null && _cut == _backbone.NodeCount)
        {
            features = input.alias();
        }
        else if (_frontier is not null)
        {
            features = _backbone.RunSuffix(new Dictionary<string, Tensor>(StringComparer.Ordinal) { [_frontier] = input }, _cut);
        }
        else if (_cut == 0)
        {
            features = _backbone.call(input);
        }
        else
        {
            Dictionary<string, Tensor> frontier;
            using (no_grad())
            {
                frontier = _backbone.RunPrefix(input, _cut);
            }

            try
            {
                features = _backbone.RunSuffix(frontier, _cut);
            }
            finally
            {
                foreach (var t in frontier.Values)
                {
                    t.Dispose();
                }
            }
        }

        using (features)
        {
            return _head.call(features);
        }
    }

    /// <summary>Leaves the backbone and the head alive: they outlive training (export, the trained classifier), and their owners free them.</summary>
#pragma warning disable CA2215 // Module.Dispose would free every registered submodule, which is exactly what must not happen here.
    protected override void Dispose(bool disposing)
    {
    }
#pragma warning restore CA2215
}
