using System.Globalization;

namespace PokeClassifier.Backbones.Onnx;

/// <summary>
/// The Python commands that export the catalog's ONNX backbones (shown in errors and in <c>docs/backbones.md</c>; keep them in step).
/// Every export takes <c>input</c> as NCHW <c>[batch, 3, s, s]</c> and names the feature output <c>features</c>.
/// </summary>
internal static class ExportCommands
{
    public static string DenseNet201(int size, string file) =>
        "either from torchvision (pip install torch torchvision onnx):\n" +
        Torchvision(size, file, "densenet201", "model.classifier = torch.nn.Identity()  # keep the 1920 pooled features") +
        "\nor from Keras (pip install tensorflow tf2onnx; same preprocessing, same shape):\n" +
        Keras(size, file, "base = tf.keras.applications.DenseNet201(include_top=False, pooling=\"avg\", weights=\"imagenet\", input_shape=(size, size, 3))",
            "features = tf.keras.layers.Activation(\"linear\", name=\"features\")(base(nhwc))");

    public static string Vgg16Torchvision(int size, string file) =>
        "from torchvision (pip install torch torchvision onnx):\n" +
        Torchvision(size, file, "vgg16", "model = model.features  # the last pooled conv map, [batch, 512, s/32, s/32]");

    public static string Vgg16Keras(int size, string file) =>
        "from Keras (pip install tensorflow tf2onnx), with caffe preprocessing done by the library:\n" +
        Keras(size, file, "base = tf.keras.applications.VGG16(include_top=False, weights=\"imagenet\", input_shape=(size, size, 3))",
            "features = tf.keras.layers.Permute((3, 1, 2), name=\"features\")(base(nhwc))  # back to [batch, 512, s/32, s/32]");

    public static string ResNet18Torchvision(int size, string file) =>
        "from torchvision (pip install torch torchvision onnx):\n" +
        Torchvision(size, file, "resnet18", "model.fc = torch.nn.Identity()  # keep the 512 pooled features");

    private static string Torchvision(int size, string file, string architecture, string cut) => string.Create(CultureInfo.InvariantCulture, $$$"""
        python3 - <<'PY'
        import torch, torchvision
        size = {{{size}}}
        model = torchvision.models.{{{architecture}}}(weights="IMAGENET1K_V1")
        {{{cut}}}
        torch.onnx.export(model.eval(), torch.zeros(1, 3, size, size), "{{{file}}}", opset_version=17,
                          input_names=["input"], output_names=["features"],
                          dynamic_axes={"input": {0: "batch"}, "features": {0: "batch"}})
        PY
        """);

    private static string Keras(int size, string file, string baseModel, string head) => string.Create(CultureInfo.InvariantCulture, $$$"""
        python3 - <<'PY'
        import tensorflow as tf, tf2onnx
        size = {{{size}}}
        {{{baseModel}}}
        image = tf.keras.Input((3, size, size), name="input")  # NCHW, as the library feeds it
        nhwc = tf.keras.layers.Permute((2, 3, 1))(image)
        {{{head}}}
        model = tf.keras.Model(image, features)
        tf2onnx.convert.from_keras(model, input_signature=[tf.TensorSpec([None, 3, size, size], tf.float32, name="input")],
                                   opset=17, output_path="{{{file}}}")
        PY
        """);
}
