using PokeClassifier.Backbones;

namespace PokeClassifier.Tests.Backbones;

/// <summary>The vectorised preprocessing against the formula it implements, value for value.</summary>
public sealed class PreprocessorTests
{
    public static TheoryData<string, int, int> Cases => new()
    {
        { "torch", 224, 224 },
        { "caffe", 37, 29 }, // a plane that is not a multiple of any vector width: the scalar tail runs too
        { "resnet18", 224, 224 }, // ML.NET's ResNet18: BGR planes and a mean image read from its preprocessing model
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Given_random_RGBA_pixels_When_filling_the_tensor_Then_every_value_is_bit_identical_to_the_scalar_formula(string preprocessing, int width, int height)
    {
        var p = preprocessing switch
        {
            "torch" => ImagePreprocessing.TorchImageNet,
            "caffe" => ImagePreprocessing.CaffeImageNet,
            _ => BackboneSpec.ResNet18.Preprocessing,
        };
        var preprocessor = new Preprocessor(p, width, height);
        var rgba = new byte[width * height * 4];
        new Random(7).NextBytes(rgba);
        var tensor = new float[preprocessor.TensorLength];

        preprocessor.Fill(rgba, tensor);

        var plane = width * height;
        for (var c = 0; c < 3; c++)
        {
            for (var i = 0; i < plane; i++)
            {
                var expected = (rgba[(i * 4) + preprocessor.SourcePlane[c]] * preprocessor.Scale[c]) + preprocessor.Offset[c];
                if (preprocessor.MeanImage is { } mean)
                {
                    expected -= mean[(c * plane) + i];
                }

                Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(tensor[(c * plane) + i]));
            }
        }
    }
}
