using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace PokeClassifier.Backbones.Torch;

/// <summary>
/// DenseNet (Huang et al., CVPR 2017) with torchvision's module layout and parameter names, so torchvision's state dicts load as
/// they are: <c>features.{conv0, norm0, relu0, pool0, denseblock1..4, transition1..3, norm5}</c> and <c>classifier</c>; each
/// <c>denselayerN</c> has <c>norm1, relu1, conv1, norm2, relu2, conv2</c>, each transition <c>norm, relu, conv, pool</c>.
/// TorchVision for .NET (0.107) has no DenseNet, hence this one.
/// </summary>
internal sealed class DenseNet : Module<Tensor, Tensor>
{
    private readonly Module<Tensor, Tensor> _features;
    private readonly Module<Tensor, Tensor> _classifier;

    /// <summary>Builds the network with torchvision's initialisation (Kaiming-normal convolutions, unit batch norms, zero biases).</summary>
    /// <param name="growthRate">New maps per dense layer.</param>
    /// <param name="blockConfig">Dense layers per block.</param>
    /// <param name="initialFeatures">Maps of the first convolution.</param>
    /// <param name="bottleneckSize">The 1x1 convolution's width, in multiples of the growth rate.</param>
    /// <param name="numClasses">Classifier outputs.</param>
    /// <param name="epsilon">The batch norms' epsilon: torchvision's 1e-5, Keras' 1.001e-5.</param>
    /// <param name="kerasPadding">Keras' first pool: explicit zero padding, then an unpadded max pool (torchvision pads with -inf inside the pool).</param>
    public DenseNet(int growthRate, IReadOnlyList<int> blockConfig, int initialFeatures, int bottleneckSize, int numClasses, double epsilon = 1e-5, bool kerasPadding = false)
        : base(nameof(DenseNet))
    {
        var layers = new List<(string, Module<Tensor, Tensor>)>
        {
            ("conv0", Conv2d(3, initialFeatures, kernel_size: 7, stride: 2, padding: 3, bias: false)),
            ("norm0", BatchNorm2d(initialFeatures, eps: epsilon)),
            ("relu0", ReLU(inplace: true)),
            ("pool0", kerasPadding
                ? Sequential(("pad", ZeroPad2d(1)), ("pool", MaxPool2d(kernel_size: 3, stride: 2)))
                : MaxPool2d(kernel_size: 3, stride: 2, padding: 1)),
        };

        long features = initialFeatures;
        for (var i = 0; i < blockConfig.Count; i++)
        {
            layers.Add(($"denseblock{i + 1}", new DenseBlock(blockConfig[i], features, bottleneckSize, growthRate, epsilon)));
            features += (long)blockConfig[i] * growthRate;
            if (i != blockConfig.Count - 1)
            {
                layers.Add(($"transition{i + 1}", new Transition(features, features / 2, epsilon)));
                features /= 2;
            }
        }

        layers.Add(("norm5", BatchNorm2d(features, eps: epsilon)));
        FeatureCount = features;
        _features = Sequential(layers);
        _classifier = Linear(features, numClasses);
        register_module("features", _features);
        register_module("classifier", _classifier);

        using (no_grad())
        {
            foreach (var (_, module) in named_modules())
            {
                switch (module)
                {
                    case TorchSharp.Modules.Conv2d conv:
                        init.kaiming_normal_(conv.weight);
                        break;
                    case TorchSharp.Modules.BatchNorm2d norm:
                        init.constant_(norm.weight, 1);
                        init.constant_(norm.bias, 0);
                        break;
                    case TorchSharp.Modules.Linear linear:
                        init.constant_(linear.bias, 0);
                        break;
                }
            }
        }
    }

    /// <summary>Length of the pooled feature vector (1920 for DenseNet201).</summary>
    public long FeatureCount { get; }

    /// <summary>DenseNet201: growth rate 32, blocks 6/12/48/32, 64 initial features, bottleneck 4 (20,013,928 parameters with 1000 classes).</summary>
    public static DenseNet DenseNet201(int numClasses = 1000) => new(32, [6, 12, 48, 32], 64, 4, numClasses);

    /// <summary>Keras' DenseNet201 in torchvision's layout: batch-norm epsilon 1.001e-5 and Keras' zero padding before the first pool.</summary>
    public static DenseNet DenseNet201Keras(int numClasses = 1000) => new(32, [6, 12, 48, 32], 64, 4, numClasses, TorchGraphExporter.KerasDenseNetEpsilon, kerasPadding: true);

    /// <summary>The pooled features, as torchvision computes them before the classifier: relu(norm5) → global average pool → [N, 1920].</summary>
    public Tensor Features(Tensor input)
    {
        using var map = _features.call(input);
        using var activated = functional.relu(map);
        using var pooled = functional.adaptive_avg_pool2d(activated, [1, 1]);
        return pooled.flatten(1);
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        using var features = Features(input);
        return _classifier.call(features);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _features.Dispose();
            _classifier.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>BN-ReLU-Conv1x1-BN-ReLU-Conv3x3 producing <c>growthRate</c> new maps from the concatenation of all earlier ones.</summary>
    private sealed class DenseLayer : Module<Tensor, Tensor>
    {
        private readonly Module<Tensor, Tensor> _norm1;
        private readonly Module<Tensor, Tensor> _relu1;
        private readonly Module<Tensor, Tensor> _conv1;
        private readonly Module<Tensor, Tensor> _norm2;
        private readonly Module<Tensor, Tensor> _relu2;
        private readonly Module<Tensor, Tensor> _conv2;

        public DenseLayer(long inputFeatures, int growthRate, int bottleneckSize, double epsilon)
            : base(nameof(DenseLayer))
        {
            var width = (long)bottleneckSize * growthRate;
            _norm1 = BatchNorm2d(inputFeatures, eps: epsilon);
            _relu1 = ReLU(inplace: true);
            _conv1 = Conv2d(inputFeatures, width, kernel_size: 1, stride: 1, bias: false);
            _norm2 = BatchNorm2d(width, eps: epsilon);
            _relu2 = ReLU(inplace: true);
            _conv2 = Conv2d(width, growthRate, kernel_size: 3, stride: 1, padding: 1, bias: false);
            register_module("norm1", _norm1);
            register_module("relu1", _relu1);
            register_module("conv1", _conv1);
            register_module("norm2", _norm2);
            register_module("relu2", _relu2);
            register_module("conv2", _conv2);
        }

        public override Tensor forward(Tensor input)
        {
            using var n1 = _norm1.call(input);
            using var r1 = _relu1.call(n1);
            using var c1 = _conv1.call(r1);
            using var n2 = _norm2.call(c1);
            using var r2 = _relu2.call(n2);
            return _conv2.call(r2);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _norm1.Dispose();
                _relu1.Dispose();
                _conv1.Dispose();
                _norm2.Dispose();
                _relu2.Dispose();
                _conv2.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    /// <summary><c>denselayer1..N</c>; each sees the block input and every earlier layer's output; returns all of them concatenated.</summary>
    private sealed class DenseBlock : Module<Tensor, Tensor>
    {
        private readonly List<DenseLayer> _layers = [];

        public DenseBlock(int layers, long inputFeatures, int bottleneckSize, int growthRate, double epsilon)
            : base(nameof(DenseBlock))
        {
            for (var i = 0; i < layers; i++)
            {
                var layer = new DenseLayer(inputFeatures + ((long)i * growthRate), growthRate, bottleneckSize, epsilon);
                _layers.Add(layer);
                register_module($"denselayer{i + 1}", layer);
            }
        }

        public override Tensor forward(Tensor input)
        {
            var outputs = new List<Tensor>(_layers.Count + 1) { input };
            try
            {
                foreach (var layer in _layers)
                {
                    // The concatenation is only needed for this layer: free it now, so memory grows with the block's output only.
                    using var concatenated = outputs.Count == 1 ? input.alias() : cat(outputs, 1);
                    outputs.Add(layer.call(concatenated));
                }

                return cat(outputs, 1);
            }
            finally
            {
                foreach (var output in outputs.Skip(1))
                {
                    output.Dispose();
                }
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                foreach (var layer in _layers)
                {
                    layer.Dispose();
                }
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>BN-ReLU-Conv1x1-AvgPool2x2 between blocks: halves the maps and the resolution.</summary>
    private sealed class Transition : Module<Tensor, Tensor>
    {
        private readonly Module<Tensor, Tensor> _norm;
        private readonly Module<Tensor, Tensor> _relu;
        private readonly Module<Tensor, Tensor> _conv;
        private readonly Module<Tensor, Tensor> _pool;

        public Transition(long inputFeatures, long outputFeatures, double epsilon)
            : base(nameof(Transition))
        {
            _norm = BatchNorm2d(inputFeatures, eps: epsilon);
            _relu = ReLU(inplace: true);
            _conv = Conv2d(inputFeatures, outputFeatures, kernel_size: 1, stride: 1, bias: false);
            _pool = AvgPool2d(kernel_size: 2, stride: 2);
            register_module("norm", _norm);
            register_module("relu", _relu);
            register_module("conv", _conv);
            register_module("pool", _pool);
        }

        public override Tensor forward(Tensor input)
        {
            using var n = _norm.call(input);
            using var r = _relu.call(n);
            using var c = _conv.call(r);
            return _pool.call(c);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _norm.Dispose();
                _relu.Dispose();
                _conv.Dispose();
                _pool.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
