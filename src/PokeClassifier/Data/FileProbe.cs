using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace PokeClassifier.Data;

/// <summary>What a path is, without opening it.</summary>
internal enum FileKind
{
    /// <summary>Nothing there (or a link to nothing).</summary>
    Missing,

    /// <summary>A regular file: the only kind the library opens.</summary>
    Regular,

    /// <summary>A folder.</summary>
    Directory,

    /// <summary>A symbolic link (only when links are not followed).</summary>
    SymbolicLink,

    /// <summary>A FIFO (named pipe): opening it for reading waits for a writer.</summary>
    Fifo,

    /// <summary>A Unix domain socket.</summary>
    Socket,

    /// <summary>A character device (a terminal, <c>/dev/zero</c>).</summary>
    CharacterDevice,

    /// <summary>A block device (a disk).</summary>
    BlockDevice,

    /// <summary>The path could not be examined (permission denied on a parent, a link loop, a parent that is a file).</summary>
    Inaccessible,
}

/// <summary>The type, identity and size of a path, as <c>stat</c>/<c>lstat</c> tell it.</summary>
internal readonly record struct FileStatus(FileKind Kind, ulong Device, ulong Inode, long Size, string? Error)
{
    public bool HasIdentity => Device != 0 || Inode != 0;

    public string Describe() => Kind switch
    {
        FileKind.Fifo => "a FIFO (named pipe)",
        FileKind.Socket => "a socket",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Directory => "a folder",
        FileKind.SymbolicLink => "a symbolic link",
        FileKind.Missing => "missing",
        FileKind.Inaccessible => $"inaccessible ({Error})",
        _ => "a regular file",
    };
}

/// <summary>
/// Examines paths without opening them (Linux: <c>statx</c>, whose layout is the same on every architecture; elsewhere the managed
/// file-system API, which cannot tell a FIFO from a file), and reads only regular files.
/// </summary>
internal static class FileProbe
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxBasicStats = 0x7ff;
    private static int _statxMissing;

    /// <summary>Examines <paramref name="path"/>; with <paramref name="followLinks"/> false a link is reported as <see cref="FileKind.SymbolicLink"/>.</summary>
    public static FileStatus Stat(string path, bool followLinks = true)
    {
        if (OperatingSystem.IsLinux() && Volatile.Read(ref _statxMissing) == 0)
        {
            try
            {
                var buffer = new byte[256];
                var name = System.Text.Encoding.UTF8.GetBytes(path + "\0");
                if (NativeMethods.statx(AtFdCwd, name, followLinks ? 0 : AtSymlinkNoFollow, StatxBasicStats, buffer) == 0)
                {
                    var mode = BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(28));
                    var inode = BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(32));
                    var size = (long)BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(40));
                    var device = ((ulong)BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(136)) << 32) | BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(140));
                    var kind = (mode & 0xF000) switch
                    {
                        0x8000 => FileKind.Regular,
                        0x4000 => FileKind.Directory,
                        0xA000 => FileKind.SymbolicLink,
                        0x1000 => FileKind.Fifo,
                        0xC000 => FileKind.Socket,
                        0x2000 => FileKind.CharacterDevice,
                        0x6000 => FileKind.BlockDevice,
                        _ => FileKind.Inaccessible,
                    };
                    return new FileStatus(kind, device, inode, size, kind == FileKind.Inaccessible ? "unknown file type" : null);
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno != 38)
                {
                    // ENOENT, ENOTDIR (a parent is gone or is a file): missing; anything else: inaccessible, with the system's words.
                    return errno is 2 or 20
                        ? new FileStatus(FileKind.Missing, 0, 0, 0, Marshal.GetPInvokeErrorMessage(errno))
                        : new FileStatus(FileKind.Inaccessible, 0, 0, 0, Marshal.GetPInvokeErrorMessage(errno));
                }

                Interlocked.Exchange(ref _statxMissing, 1);
            }
            catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
            {
                Interlocked.Exchange(ref _statxMissing, 1);
            }
        }

        return ManagedStat(path, followLinks);
    }

    /// <summary>Reads a whole regular file; anything else (FIFO, device, socket, folder, missing) is refused without being opened.</summary>
    /// <exception cref="InvalidImageException">The path is not a regular file, or is larger than <paramref name="maxBytes"/>.</exception>
    /// <exception cref="IOException">The file vanished or could not be read.</exception>
    /// <exception cref="UnauthorizedAccessException">Permission denied.</exception>
    public static byte[] ReadRegularFile(string path, long maxBytes = int.MaxValue)
    {
        var status = Stat(path);
        switch (status.Kind)
        {
            case FileKind.Regular:
                break;
            case FileKind.Missing:
                throw new FileNotFoundException($"Could not find file '{path}' (it was deleted or moved after it was listed, or a link points nowhere).", path);
            case FileKind.Inaccessible:
                throw new InvalidImageException(path, SkipReason.Unreadable, $"the file cannot be examined: {status.Error}");
            default:
                throw new InvalidImageException(path, SkipReason.NotARegularFile, $"{status.Describe()}, not a regular file: not opened");
        }

        if (status.Size > maxBytes)
        {
            throw new InvalidImageException(path, SkipReason.TooLarge, $"the file holds {status.Size:N0} bytes, more than the {maxBytes:N0} an image may have");
        }

        // A file that grows while it is read is read up to the length it had when opened (File.ReadAllBytes reads that many bytes).
        return File.ReadAllBytes(path);
    }

    /// <summary>The path with every symbolic link resolved (like <c>realpath</c>); a component that is missing is kept as it is.</summary>
    public static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        for (var depth = 0; depth < 40; depth++)
        {
            var root = Path.GetPathRoot(full) ?? string.Empty;
            var current = root;
            var changed = false;
            foreach (var part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
            {
                var next = Path.Combine(current, part);
                FileSystemInfo? target = null;
                try
                {
                    var info = new FileInfo(next);
                    if (info.LinkTarget is { } link)
                    {
                        target = new FileInfo(Path.GetFullPath(link, current));
                    }
                }
                catch (IOException)
                {
                }
                catch (UnauthorizedAccessException)
                {
                }

                if (target is not null)
                {
                    // Resolve the rest against the link's target, then start again (the target may hold links of its own).
                    var rest = full[(next.Length)..].TrimStart(Path.DirectorySeparatorChar);
                    full = rest.Length == 0 ? target.FullName : Path.Combine(target.FullName, rest);
                    changed = true;
                    break;
                }

                current = next;
            }

            if (!changed)
            {
                return Path.TrimEndingDirectorySeparator(full);
            }
        }

        throw new IOException($"Too many levels of symbolic links resolving '{path}'.");
    }

    /// <summary>Whether <paramref name="path"/> is <paramref name="folder"/> or inside it (both real paths).</summary>
    public static bool IsSameOrInside(string path, string folder) =>
        path.Equals(folder, StringComparison.Ordinal) ||
        path.StartsWith(Path.EndsInDirectorySeparator(folder) ? folder : folder + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    private static FileStatus ManagedStat(string path, bool followLinks)
    {
        try
        {
            FileSystemInfo info = new FileInfo(path);
            if (info.LinkTarget is not null)
            {
                if (!followLinks)
                {
                    return new FileStatus(FileKind.SymbolicLink, 0, 0, 0, null);
                }

                info = info.ResolveLinkTarget(returnFinalTarget: true) ?? info;
            }

            if (System.IO.Directory.Exists(info.FullName))
            {
                return new FileStatus(FileKind.Directory, 0, 0, 0, null);
            }

            return File.Exists(info.FullName)
                ? new FileStatus(FileKind.Regular, 0, 0, new FileInfo(info.FullName).Length, null)
                : new FileStatus(FileKind.Missing, 0, 0, 0, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new FileStatus(FileKind.Inaccessible, 0, 0, 0, e.Message);
        }
    }

    private static class NativeMethods
    {
        [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int statx(int dirfd, byte[] path, int flags, uint mask, byte[] buffer);
    }
}
