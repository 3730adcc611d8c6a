namespace PokeClassifier.Data;

/// <summary>
/// Lists the files under a folder safely: only regular files (and links to regular files) are returned; FIFOs, sockets and
/// devices are listed as skipped and never opened; links to folders are not followed (so no walk can leave its folder or loop);
/// a folder reached twice (a bind mount onto itself) is walked once; a folder that cannot be listed is listed as skipped.
/// </summary>
internal sealed class FolderWalker(bool ignoreHidden)
{
    private const int MaxDepth = 128;
    private readonly HashSet<(ulong Device, ulong Inode)> _visited = [];

    /// <summary>Everything found but not returned, with the reason.</summary>
    public List<SkippedFile> Skipped { get; } = [];

    /// <summary>Records a folder as walked; false when it was walked already.</summary>
    public bool MarkVisited(string folder)
    {
        var status = FileProbe.Stat(folder);
        return !status.HasIdentity || _visited.Add((status.Device, status.Inode));
    }

    /// <summary>The regular files under <paramref name="folder"/> at any depth, in ordinal order of their paths.</summary>
    public List<string> Walk(string folder, string? label)
    {
        var files = new List<string>();
        if (!MarkVisited(folder))
        {
            Skip(folder, label, SkipReason.NotARegularFile, "this folder was already walked (it is reached twice, e.g. through a bind mount): walked once");
            return files;
        }

        var pending = new Stack<(string Folder, int Depth)>();
        pending.Push((folder, 0));
        while (pending.Count > 0)
        {
            var (dir, depth) = pending.Pop();
            List<string> entries;
            try
            {
                entries = Directory.EnumerateFileSystemEntries(dir, "*", new EnumerationOptions { IgnoreInaccessible = false, AttributesToSkip = 0, RecurseSubdirectories = false })
                    .Order(StringComparer.Ordinal).ToList();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Skip(dir, label, SkipReason.Unreadable, $"the folder could not be listed ({e.Message}): the files inside are left out");
                continue;
            }

            var subfolders = new List<string>();
            foreach (var entry in entries)
            {
                if (ignoreHidden && Path.GetFileName(entry).StartsWith('.'))
                {
                    continue;
                }

                var status = FileProbe.Stat(entry, followLinks: false);
                switch (status.Kind)
                {
                    case FileKind.Regular:
                        files.Add(entry);
                        break;
                    case FileKind.Directory when depth + 1 >= MaxDepth:
                        Skip(entry, label, SkipReason.Unreadable, $"folders nested more than {MaxDepth} deep are not walked");
                        break;
                    case FileKind.Directory when !status.HasIdentity || _visited.Add((status.Device, status.Inode)):
                        subfolders.Add(entry);
                        break;
                    case FileKind.Directory:
                        Skip(entry, label, SkipReason.NotARegularFile, "this folder was already walked (it is reached twice, e.g. through a bind mount): walked once");
                        break;
                    case FileKind.SymbolicLink:
                        Link(entry, label, files);
                        break;
                    case FileKind.Missing:
                        Skip(entry, label, SkipReason.Unreadable, "the file disappeared while the folder was being listed");
                        break;
                    case FileKind.Inaccessible:
                        Skip(entry, label, SkipReason.Unreadable, $"the file cannot be examined: {status.Error}");
                        break;
                    default:
                        Skip(entry, label, SkipReason.NotARegularFile, $"{status.Describe()}, not a regular file: never opened");
                        break;
                }
            }

            for (var i = subfolders.Count - 1; i >= 0; i--)
            {
                pending.Push((subfolders[i], depth + 1));
            }
        }

        files.Sort(StringComparer.Ordinal);
        return files;
    }

    /// <summary>A link inside a walked folder: followed when it leads to a regular file, listed otherwise.</summary>
    private void Link(string entry, string? label, List<string> files)
    {
        var target = FileProbe.Stat(entry, followLinks: true);
        var to = LinkText(entry);
        switch (target.Kind)
        {
            case FileKind.Regular:
                files.Add(entry);
                break;
            case FileKind.Directory:
                Skip(entry, label, SkipReason.NotARegularFile, $"a link to a folder ({to}): links to folders inside a class folder are not followed (they can lead out of the class or into a cycle)");
                break;
            case FileKind.Missing:
                Skip(entry, label, SkipReason.Unreadable, $"a link that points nowhere ({to})");
                break;
            case FileKind.Inaccessible:
                Skip(entry, label, SkipReason.Unreadable, $"a link that cannot be followed ({to}): {target.Error}");
                break;
            default:
                Skip(entry, label, SkipReason.NotARegularFile, $"a link to {target.Describe()} ({to}), not a regular file: never opened");
                break;
        }
    }

    internal static string LinkText(string entry)
    {
        try
        {
            return "-> " + (new FileInfo(entry).LinkTarget ?? "?");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "-> ?";
        }
    }

    private void Skip(string path, string? label, SkipReason reason, string detail) =>
        Skipped.Add(new SkippedFile { Path = path, Label = label, Reason = reason, Detail = detail });
}
