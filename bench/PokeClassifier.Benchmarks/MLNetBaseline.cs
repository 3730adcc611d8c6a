using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using PokeClassifier.Data;

namespace PokeClassifier.Benchmarks;

/// <summary>ML.NET's own image featurization: LoadImages, ResizeImages, ExtractPixels and DnnFeaturizeImage with ResNet18.</summary>
internal sealed class MLNetBaseline
{
    private readonly MLContext _context = new(seed: 1);
    private readonly TransformerChain<TransformerChain<ColumnCopyingTransformer>> _model;

    public MLNetBaseline(IReadOnlyList<DatasetItem> fitOn)
    {
        var pipeline = _context.Transforms.LoadImages("Image", imageFolder: "", inputColumnName: nameof(PathRow.ImagePath))
            .Append(_context.Transforms.ResizeImages("Image", 224, 224))
            .Append(_context.Transforms.ExtractPixels("Pixels", "Image"))
            .Append(_context.Transforms.DnnFeaturizeImage("Features", m => m.ModelSelector.ResNet18(_context, m.OutputColumn, m.InputColumn), "Pixels"));
        _model = pipeline.Fit(View(fitOn));
    }

    /// <summary>Enumerates the features of every image (the pipeline is lazy: this is where the work happens).</summary>
    public float[][] Run(IReadOnlyList<DatasetItem> items) =>
        _model.Transform(View(items)).GetColumn<float[]>("Features").ToArray();

    private IDataView View(IReadOnlyList<DatasetItem> items) =>
        _context.Data.LoadFromEnumerable(items.Select(i => new PathRow { ImagePath = i.Path }).ToArray());

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = string.Empty;
    }
}
