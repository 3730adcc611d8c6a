using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace PokeClassifier.Features;

/// <summary>
/// Content-addressed, on-disk store of backbone features: one small file per (backbone identity, image content hash).
/// Every write goes to a temporary file that is renamed into place, so a killed process leaves either a complete entry or none,
/// and the next run resumes where it stopped. Entries are checked (magic, length, checksum) when read; a bad one is recomputed.
/// </summary>
public sealed class FeatureCache
{
    private const uint Magic = 0x43464350; // "PCFC"
    private const int Version = 1;
    private const int HeaderBytes = 16;

    /// <summary>Creates a cache in <paramref name="directory"/> (created on first write), or in <see cref="DefaultDirectory"/>.</summary>
    public FeatureCache(string? directory = null)
    {
        Directory = Path.GetFullPath(directory ?? DefaultDirectory);
    }

    /// <summary>
    /// The default location: <c>$POKECLASSIFIER_CACHE/features</c> if set, else the user cache folder
    /// (<c>$XDG_CACHE_HOME</c> or <c>~/.cache</c>; local application data on Windows) <c>/pokeclassifier/features</c>.
    /// </summary>
    public static string DefaultDirectory => Path.Combine(CacheRoot.Directory, "features");

    /// <summary>The cache folder.</summary>
    public string Directory { get; }

    /// <summary>Deletes every entry of every backbone.</summary>
    public void Clear()
    {
        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    /// <summary>Counts the entries on disk (all backbones).</summary>
    public int CountEntries() =>
        System.IO.Directory.Exists(Directory) ? System.IO.Directory.EnumerateFiles(Directory, "*.f32", SearchOption.AllDirectories).Count() : 0;

    internal string EntryPath(string backboneKey, string contentHash) =>
        Path.Combine(Directory, backboneKey, contentHash[..2], contentHash + ".f32");

    internal bool TryRead(string backboneKey, string contentHash, int length, out float[] features)
    {
        features = [];
        var path = EntryPath(backboneKey, contentHash);
        byte[] bytes;
        if (!File.Exists(path))
        {
            return false; // the usual miss, without the cost of an exception per image
        }

        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            // A folder or entry this user may not read is a miss, not a problem of the image.
            return false;
        }

        if (bytes.Length != HeaderBytes + (length * 4) ||
            BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic ||
            BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4)) != Version ||
            BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8)) != length)
        {
            return false;
        }

        var payload = bytes.AsSpan(HeaderBytes);
        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12)) != Checksum(payload))
        {
            return false;
        }

        features = MemoryMarshal.Cast<byte, float>(payload).ToArray();
        return true;
    }

    internal void Write(string backboneKey, string contentHash, ReadOnlySpan<float> features)
    {
        var path = EntryPath(backboneKey, contentHash);
        var dir = Path.GetDirectoryName(path)!;
        System.IO.Directory.CreateDirectory(dir);
        // The header and the features are written from where they are (no copy of an entry: activations of fine-tuning rows are
        // hundreds of kilobytes, and a buffer per row would churn the large-object heap).
        var payload = MemoryMarshal.AsBytes(features);
        Span<byte> header = stackalloc byte[HeaderBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], features.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], Checksum(payload));
        var temp = Path.Combine(dir, $".{contentHash}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        WriteAtomically(temp, path, header, payload);
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="temp"/> and renames it to <paramref name="path"/>; on any failure
    /// (a full disk, a folder made read-only) the temporary file is removed and the error rethrown.</summary>
    private static void WriteAtomically(string temp, string path, ReadOnlySpan<byte> bytes) => WriteAtomically(temp, path, bytes, []);

    /// <summary>As above, with the file's bytes given in two parts, written one after the other.</summary>
    private static void WriteAtomically(string temp, string path, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        try
        {
            // Unbuffered: a full disk fails the write itself, not a later flush that would fail again when the stream is disposed.
            using (var handle = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                RandomAccess.Write(handle, first, 0);
                if (!second.IsEmpty)
                {
                    RandomAccess.Write(handle, second, first.Length);
                }
            }

            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            try
            {
                File.Delete(temp);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A read-only folder keeps what it has; nothing was created there.
            }

            throw;
        }
    }

    /// <summary>Writes a description of the backbone next to its entries, for people browsing the cache.</summary>
    internal void Describe(string backboneKey, string description)
    {
        var dir = Path.Combine(Directory, backboneKey);
        var file = Path.Combine(dir, "backbone.txt");
        if (File.Exists(file))
        {
            return;
        }

        System.IO.Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".backbone.txt.{Guid.NewGuid():N}.tmp");
        WriteAtomically(temp, file, System.Text.Encoding.UTF8.GetBytes(description));
    }

    /// <summary>FNV-1a over the payload: catches torn or damaged entries.</summary>
    private static uint Checksum(ReadOnlySpan<byte> data)
    {
        var hash = 2166136261u;
        foreach (var b in data)
        {
            hash = (hash ^ b) * 16777619u;
        }

        return hash;
    }
}
