using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace PokeClassifier.Backbones;

/// <summary>SHA-256 of files, remembered per (path, length, last write) so a large model is hashed once per process.</summary>
internal static class FileHash
{
    private static readonly ConcurrentDictionary<(string Path, long Length, DateTime Modified), string> Known = new();
    private static readonly ConcurrentDictionary<(string Path, long Length, DateTime Modified), string> KnownMd5 = new();

    /// <summary>The lower-case hex SHA-256 of the file.</summary>
    public static string Sha256(string path)
    {
        var info = new FileInfo(path);
        return Known.GetOrAdd((info.FullName, info.Length, info.LastWriteTimeUtc), static (_, p) =>
        {
            using var stream = new FileStream(p, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        }, path);
    }

    /// <summary>The lower-case hex MD5 of the file (Keras publishes only that).</summary>
    public static string Md5(string path)
    {
        var info = new FileInfo(path);
        return KnownMd5.GetOrAdd((info.FullName, info.Length, info.LastWriteTimeUtc), static (_, p) =>
        {
            using var stream = new FileStream(p, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
#pragma warning disable CA5351 // MD5 is what Keras publishes for its files; SHA-256 is recorded beside it
            return Convert.ToHexStringLower(MD5.HashData(stream));
#pragma warning restore CA5351
        }, path);
    }

    /// <summary>Whether the file matches every checksum <paramref name="source"/> knows.</summary>
    public static bool Matches(WeightSource source, string path) =>
        source.Matches(Sha256(path), source.Md5 is null ? null : Md5(path));
}
