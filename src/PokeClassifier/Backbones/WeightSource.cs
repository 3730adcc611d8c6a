using System.Globalization;

namespace PokeClassifier.Backbones;

/// <summary>The file format of a backbone's weights.</summary>
public enum WeightFormat
{
    /// <summary>An ONNX graph with its weights (run by ONNX Runtime).</summary>
    Onnx,

    /// <summary>A PyTorch <c>state_dict</c> saved with <c>torch.save</c> (<c>.pth</c>), as torchvision publishes them.</summary>
    TorchPth,

    /// <summary>A <c>.safetensors</c> file.</summary>
    Safetensors,

    /// <summary>A Keras weights file (HDF5, <c>.h5</c>) as <c>keras.applications</c> publishes them, read without Python or native HDF5.</summary>
    KerasH5,
}

/// <summary>
/// Where a backbone's weights file comes from and how to check it: a file name (the name it has in the weight cache), its SHA-256,
/// an optional download URL and, for files that cannot be downloaded, how to produce them. Shown in full when the file is unavailable.
/// </summary>
public sealed record WeightSource
{
    private readonly string _fileName = string.Empty;
    private readonly string? _sha256;
    private readonly string? _md5;

    /// <summary>Where the file can be downloaded; <see langword="null"/> when it must be produced locally (for example an ONNX export).</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public Uri? Url { get; init; }

    /// <summary>The file's name in the weight cache (a plain name, no folders), for example <c>densenet201-c1103571.pth</c>.</summary>
    /// <exception cref="ArgumentException">The name is empty or contains a folder separator or an invalid character.</exception>
    public required string FileName
    {
        get => _fileName;
        init
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(value, nameof(FileName));
            if (value is "." or ".." || value.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || value.Contains('/', StringComparison.Ordinal) || value.Contains('\\', StringComparison.Ordinal))
            {
                throw new ArgumentException($"Weight file name '{value}' must be a plain file name without folders.", nameof(FileName));
            }

            _fileName = value;
        }
    }

    /// <summary>
    /// The file's SHA-256 in hex: all 64 digits, or a prefix of at least 8 (torchvision file names carry the first 8, e.g.
    /// <c>resnet18-f37072fd.pth</c>, and are checked like <c>torch.hub</c> does, by comparing the prefix);
    /// <see langword="null"/> when no checksum is known (files people export themselves are not byte-for-byte reproducible).
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    /// <exception cref="ArgumentException">The value is not 8 to 64 hexadecimal digits.</exception>
    public string? Sha256
    {
        get => _sha256;
        init
        {
            if (value is not null && (value.Length < 8 || value.Length > 64 || !value.All(char.IsAsciiHexDigit)))
            {
                throw new ArgumentException($"SHA-256 '{value}' must be 8 to 64 hexadecimal digits (the full hash or a prefix of it).", nameof(Sha256));
            }

            _sha256 = value?.ToLowerInvariant();
        }
    }

    /// <summary>
    /// The file's MD5 in hex (32 digits), for files whose publisher gives only that: Keras applications' <c>file_hash</c>. Checked in
    /// addition to <see cref="Sha256"/> when both are set.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    /// <exception cref="ArgumentException">The value is not 32 hexadecimal digits.</exception>
    public string? Md5
    {
        get => _md5;
        init
        {
            if (value is not null && (value.Length != 32 || !value.All(char.IsAsciiHexDigit)))
            {
                throw new ArgumentException($"MD5 '{value}' must be 32 hexadecimal digits.", nameof(Md5));
            }

            _md5 = value?.ToLowerInvariant();
        }
    }

    /// <summary>The file format.</summary>
    /// <value>The default is <see cref="WeightFormat.Onnx"/>.</value>
    public WeightFormat Format { get; init; } = WeightFormat.Onnx;

    /// <summary>How a person gets the file when it is not in the cache and cannot be downloaded (shown in the error), for example an export command.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? HowToProduce { get; init; }

    /// <summary>Whether <paramref name="sha256Hex"/> (a full 64-digit hash) matches <see cref="Sha256"/>; always true when no checksum is known.</summary>
    public bool Matches(string sha256Hex)
    {
        ArgumentException.ThrowIfNullOrEmpty(sha256Hex);
        return Sha256 is null || sha256Hex.StartsWith(Sha256, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Whether a file with these hashes matches every checksum known (<paramref name="md5Hex"/> is needed only when <see cref="Md5"/> is set).</summary>
    internal bool Matches(string sha256Hex, string? md5Hex) =>
        Matches(sha256Hex) && (Md5 is null || string.Equals(md5Hex, Md5, StringComparison.OrdinalIgnoreCase));

    /// <summary>Whether any checksum is known.</summary>
    internal bool HasChecksum => Sha256 is not null || Md5 is not null;

    /// <summary>The checksum as people read it in messages.</summary>
    internal string DescribeChecksum() => Sha256 switch
    {
        null when Md5 is not null => $"MD5 {Md5} (as Keras publishes it)",
        null => "none known (the file is produced locally, so any copy is accepted)",
        { Length: 64 } full => full,
        var prefix => string.Create(CultureInfo.InvariantCulture, $"{prefix}... (the first {prefix.Length} hex digits of its SHA-256)"),
    };

    /// <inheritdoc />
    public override string ToString() => $"{FileName} ({Format}, {(Md5 is null ? "SHA-256 " + (Sha256 ?? "unknown") : "MD5 " + Md5)}{(Url is null ? string.Empty : ", " + Url)})";
}
