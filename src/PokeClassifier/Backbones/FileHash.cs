using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace PokeClassifier.Backbones;

/// <summary>SHA-256 of files, remembered per (path, length, last write) so a large model is hashed once per process.</summary>
internal static class FileHash
{
    private static readonly ConcurrentDictionary<(string Path, long Length, DateTime Modified), string> Known = new();

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
}
