// This file is compiled twice: into PokeClassifier.TorchSharp (the run-time fallback, TorchRuntime) and, by MSBuild's
// RoslynCodeTaskFactory, into the build task of build/PokeClassifier.TorchSharp.props (packed next to it). The task build targets netstandard2.0, so
// the file keeps to APIs available there and to language features that need no runtime support.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Security.Cryptography;
using System.Text;

namespace PokeClassifier.Backbones.Torch
{
    /// <summary>What <see cref="LibTorchSharpCompat.Apply"/> did to one file.</summary>
    internal enum LibTorchSharpPatchOutcome
    {
        /// <summary>There is no such file.</summary>
        Missing,

        /// <summary>The system's libstdc++ has the version, so the file is left as it is.</summary>
        NotNeeded,

        /// <summary>The version requirement was marked weak now.</summary>
        Patched,

        /// <summary>The file was patched before (its hash is the known patched one).</summary>
        AlreadyPatched,

        /// <summary>The file is not the known original (another TorchSharp build): left alone.</summary>
        UnknownFile,

        /// <summary>The file lies where it must not be changed (the NuGet cache): left alone.</summary>
        Refused,

        /// <summary>Writing the patched file failed (read-only folder, for example).</summary>
        Failed,
    }

    /// <summary>The outcome of <see cref="LibTorchSharpCompat.Apply"/> for one file, with a sentence for logs and error messages.</summary>
    internal sealed class LibTorchSharpPatchResult
    {
        public LibTorchSharpPatchResult(string path, LibTorchSharpPatchOutcome outcome, string message)
        {
            Path = path;
            Outcome = outcome;
            Message = message;
        }

        public string Path { get; }

        public LibTorchSharpPatchOutcome Outcome { get; }

        public string Message { get; }

        public override string ToString() => Message;
    }

    /// <summary>One entry of an ELF file's version-needs table (<c>.gnu.version_r</c>): a version required from a library.</summary>
    internal sealed class ElfVersionNeed
    {
        public ElfVersionNeed(string file, string version, ushort flags, long flagsOffset)
        {
            File = file;
            Version = version;
            Flags = flags;
            FlagsOffset = flagsOffset;
        }

        /// <summary>The library the version is required from (for example <c>libstdc++.so.6</c>).</summary>
        public string File { get; }

        /// <summary>The version name (for example <c>GLIBCXX_3.4.32</c>).</summary>
        public string Version { get; }

        /// <summary><c>vna_flags</c>: 0x2 (<c>VER_FLG_WEAK</c>) makes the dynamic loader accept a library without that version.</summary>
        public ushort Flags { get; }

        /// <summary>Offset of <c>vna_flags</c> in the file.</summary>
        public long FlagsOffset { get; }
    }

    /// <summary>
    /// Makes TorchSharp's native glue load on systems whose libstdc++ predates GCC 13 (Debian 12, Ubuntu 22.04).
    /// TorchSharp 0.107.0's <c>libLibTorchSharp.so</c> requires <c>GLIBCXX_3.4.32</c> for one symbol only,
    /// <c>_ZSt21ios_base_library_initv</c>, which GCC 13 references from every translation unit that includes
    /// &lt;iostream&gt; but which nothing relocates against, so it is never looked up. Marking that version requirement weak
    /// (one flag byte in the version-needs table) lets the loader accept libstdc++ 12; everything else is unchanged.
    /// See docs/torchsharp.md.
    /// </summary>
    internal static class LibTorchSharpCompat
    {
        /// <summary>The native library's file name.</summary>
        public const string FileName = "libLibTorchSharp.so";

        /// <summary>The version that older libstdc++ lack.</summary>
        public const string RequiredVersion = "GLIBCXX_3.4.32";

        /// <summary>SHA-256 of <c>libLibTorchSharp.so</c> as shipped in TorchSharp 0.107.0 (runtimes/linux-x64/native).</summary>
        public const string OriginalSha256 = "cf33b1b0bb6bbb9754a768fb5c5d04d9f498603be50e73f55621a0b40ee608b8";

        /// <summary>SHA-256 of the same file once <see cref="RequiredVersion"/> is marked weak.</summary>
        public const string PatchedSha256 = "5968efac8270eff8a2b5ca7381612ea9cc54d81cf4104a54e0e6106b7b5f11e3";

        private const string LibStdCxx = "libstdc++.so.6";
        private static readonly char[] PathListSeparator = { ':' };
        private static readonly string[] UsualLibraryFolders = { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/usr/local/lib64", "/usr/local/lib", "/usr/lib", "/lib" };
        private const ushort VerFlagWeak = 0x2;
        private const uint ShtGnuVerdef = 0x6ffffffd;
        private const uint ShtGnuVerneed = 0x6ffffffe;

        /// <summary>
        /// Marks <see cref="RequiredVersion"/> weak in <paramref name="path"/> when the system's libstdc++ lacks it (or always, with
        /// <paramref name="force"/>). Only the known original file is changed, and only when the result has the known patched hash;
        /// the new file is written beside it and renamed over it (so a hard link into the NuGet cache is never written through).
        /// Never throws for I/O problems: the outcome says what happened.
        /// </summary>
        /// <param name="path">The copy of <c>libLibTorchSharp.so</c> in a build or publish output.</param>
        /// <param name="force">Patch even where the system's libstdc++ has the version (for output meant for other machines).</param>
        /// <param name="protectedRoot">A folder whose files are never changed (the NuGet package cache); <see langword="null"/> for none.</param>
        public static LibTorchSharpPatchResult Apply(string path, bool force, string? protectedRoot)
        {
            if (!File.Exists(path))
            {
                return new LibTorchSharpPatchResult(path, LibTorchSharpPatchOutcome.Missing, $"{path}: no such file.");
            }

            try
            {
                var bytes = File.ReadAllBytes(path);
                var hash = Sha256Hex(bytes);
                if (hash == PatchedSha256)
                {
                    return new LibTorchSharpPatchResult(path, LibTorchSharpPatchOutcome.AlreadyPatched, $"{path}: already patched ({RequiredVersion} is a weak requirement).");
                }

                if (!force && SystemProvides(RequiredVersion) == true)
                {
                    return new LibTorchSharpPatchResult(path, LibTorchSharpPatchOutcome.NotNeeded, $"{path}: not patched; the system's libstdc++ ({FindSystemLibStdCxx()}) provides {RequiredVersion}.");
                }

                if (protectedRoot is not null && IsUnder(path, protectedRoot))
                {
                    return new LibTorchSharpPatchResult(path, LibTorchSharpPatchOutcome.Refused, $"{path}: not patched; it lies in the NuGet package cache ({protectedRoot}), which is never modified.");
                }

                if (hash != OriginalSha256)
                {
                    return new LibTorchSharpPatchResult(path, LibTorchSharpPatchOutcome.UnknownFile, $"{path}: not patched; its SHA-256 {hash} is not TorchSharp 0.107.0's ({OriginalSha256}).");
                }

                ElfVersionNeed? need = null;
                foreach (var n in ReadVersionNeeds(bytes))
                {
                    if (n.File == LibStdCxx && n.Version == RequiredVersion)
                    {
                        need = n;
                    }
                }

                if (need is null)
                {
                    return new LibTorchSharpPatchResult(path, LibTorchSharpPatchOutcome.UnknownFile, $"{path}: not patched; it does not require {RequiredVersion} from {LibStdCxx}.");
                }

                var flags = (ushort)(need.Flags | VerFlagWeak);
                bytes[need.FlagsOffset] = (byte)(flags & 0xff);
                bytes[need.FlagsOffset + 1] = (byte)(flags >> 8);
                var patchedHash = Sha256Hex(bytes);
                if (patchedHash != PatchedSha256)
                {
                    return new LibTorchSharpPatchResult(path, LibTorchSharpPatchOutcome.UnknownFile, $"{path}: not patched; the patched bytes would hash to {patchedHash}, not the expected {PatchedSha256}.");
                }

                WriteReplacing(path, need.FlagsOffset, bytes[need.FlagsOffset], bytes[need.FlagsOffset + 1]);
                return new LibTorchSharpPatchResult(path, LibTorchSharpPatchOutcome.Patched, $"{path}: patched; {RequiredVersion} from {LibStdCxx} is now a weak requirement, as the system's libstdc++ ({FindSystemLibStdCxx() ?? "not found"}) lacks it.");
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException || e is InvalidDataException)
            {
                return new LibTorchSharpPatchResult(path, LibTorchSharpPatchOutcome.Failed, $"{path}: could not be patched: {e.Message}");
            }
        }

        /// <summary>Whether the system's libstdc++ defines <paramref name="version"/>; <see langword="null"/> when no libstdc++ is found.</summary>
        public static bool? SystemProvides(string version)
        {
            var path = FindSystemLibStdCxx();
            if (path is null)
            {
                return null;
            }

            try
            {
                return ReadVersionDefinitions(File.ReadAllBytes(path)).Contains(version);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException || e is InvalidDataException)
            {
                return null;
            }
        }

        /// <summary>
        /// The libstdc++ the dynamic loader uses: the one already mapped into this process (a .NET process on Linux always has one),
        /// else the first found on <c>LD_LIBRARY_PATH</c> and the usual library folders.
        /// </summary>
        public static string? FindSystemLibStdCxx()
        {
            try
            {
                if (File.Exists("/proc/self/maps"))
                {
                    foreach (var line in File.ReadLines("/proc/self/maps"))
                    {
                        var slash = line.IndexOf('/');
                        if (slash >= 0 && line.Contains("/libstdc++.so"))
                        {
                            var mapped = line.Substring(slash).Trim();
                            if (File.Exists(mapped))
                            {
                                return mapped;
                            }
                        }
                    }
                }
            }
            catch (IOException)
            {
                // Fall back to the folders below.
            }
            catch (UnauthorizedAccessException)
            {
                // Same.
            }

            var folders = new List<string>();
            var ldPath = Environment.GetEnvironmentVariable("LD_LIBRARY_PATH");
            if (!string.IsNullOrEmpty(ldPath))
            {
                folders.AddRange(ldPath!.Split(PathListSeparator, StringSplitOptions.RemoveEmptyEntries));
            }

            folders.AddRange(UsualLibraryFolders);
            foreach (var folder in folders)
            {
                var candidate = Path.Combine(folder, LibStdCxx);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }

            return null;
        }

        /// <summary>The version names an ELF shared library defines (<c>.gnu.version_d</c>), such as <c>GLIBCXX_3.4.30</c>.</summary>
        /// <exception cref="InvalidDataException">Not a 64-bit little-endian ELF file, or a damaged one.</exception>
        public static HashSet<string> ReadVersionDefinitions(byte[] elf)
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var section in Sections(elf))
            {
                if (section.Type != ShtGnuVerdef)
                {
                    continue;
                }

                var strings = StringTable(elf, section.Link);
                var offset = section.Offset;
                for (var i = 0; i < section.Info; i++)
                {
                    var aux = offset + U32(elf, offset + 12);
                    names.Add(CString(elf, strings + U32(elf, aux)));
                    var next = U32(elf, offset + 16);
                    if (next == 0)
                    {
                        break;
                    }

                    offset += next;
                }
            }

            return names;
        }

        /// <summary>Every (library, version) an ELF file requires (<c>.gnu.version_r</c>), with the offset of its flags.</summary>
        /// <exception cref="InvalidDataException">Not a 64-bit little-endian ELF file, or a damaged one.</exception>
        public static List<ElfVersionNeed> ReadVersionNeeds(byte[] elf)
        {
            var needs = new List<ElfVersionNeed>();
            foreach (var section in Sections(elf))
            {
                if (section.Type != ShtGnuVerneed)
                {
                    continue;
                }

                var strings = StringTable(elf, section.Link);
                var offset = section.Offset;
                for (var i = 0; i < section.Info; i++)
                {
                    var count = U16(elf, offset + 2);
                    var file = CString(elf, strings + U32(elf, offset + 4));
                    var aux = offset + U32(elf, offset + 8);
                    for (var j = 0; j < count; j++)
                    {
                        needs.Add(new ElfVersionNeed(file, CString(elf, strings + U32(elf, aux + 8)), U16(elf, aux + 4), aux + 4));
                        var nextAux = U32(elf, aux + 12);
                        if (nextAux == 0)
                        {
                            break;
                        }

                        aux += nextAux;
                    }

                    var next = U32(elf, offset + 12);
                    if (next == 0)
                    {
                        break;
                    }

                    offset += next;
                }
            }

            return needs;
        }

        /// <summary>Lower-case hex SHA-256 of <paramref name="bytes"/>.</summary>
        public static string Sha256Hex(byte[] bytes)
        {
#pragma warning disable CA1850 // SHA256.HashData does not exist in netstandard2.0, which the build task compiles against.
            using (var sha = SHA256.Create())
            {
                var hash = sha.ComputeHash(bytes);
                var text = new StringBuilder(hash.Length * 2);
                foreach (var b in hash)
                {
                    text.Append("0123456789abcdef"[b >> 4]).Append("0123456789abcdef"[b & 0xf]);
                }

                return text.ToString();
            }
#pragma warning restore CA1850
        }

        private static void WriteReplacing(string path, long offset, byte low, byte high)
        {
            // Copy (keeps the file mode), change the two bytes in the copy, check it, then rename it over the original: readers never
            // see a half-written file, and a hard link to the NuGet cache is replaced rather than written through.
            var temp = path + ".pokeclassifier-" + Guid.NewGuid().ToString("N") + ".tmp";
            try
            {
                var modified = File.GetLastWriteTimeUtc(path);
                File.Copy(path, temp, true);
                using (var stream = new FileStream(temp, FileMode.Open, FileAccess.ReadWrite))
                {
                    stream.Position = offset;
                    stream.WriteByte(low);
                    stream.WriteByte(high);
                }

                if (Sha256Hex(File.ReadAllBytes(temp)) != PatchedSha256)
                {
                    throw new IOException("the patched copy does not have the expected hash");
                }

                // The original's time stamp, so an incremental build's copy step (same size, same time) leaves the patched file be.
                File.SetLastWriteTimeUtc(temp, modified);
                File.Replace(temp, path, null);
            }
            finally
            {
                if (File.Exists(temp))
                {
                    File.Delete(temp);
                }
            }
        }

        private static bool IsUnder(string path, string root)
        {
            var full = Path.GetFullPath(path);
            var folder = Path.GetFullPath(root).TrimEnd('/') + "/";
            return full.StartsWith(folder, StringComparison.Ordinal);
        }

        private static List<Section> Sections(byte[] elf)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            {
                throw new InvalidDataException("not an ELF file");
            }

            if (elf[4] != 2 || elf[5] != 1)
            {
                throw new InvalidDataException("not a 64-bit little-endian ELF file");
            }

            var shoff = U64(elf, 0x28);
            var shentsize = U16(elf, 0x3a);
            var shnum = U16(elf, 0x3c);
            if (shentsize < 64)
            {
                throw new InvalidDataException("bad ELF section header size");
            }

            var sections = new List<Section>(shnum);
            for (var i = 0; i < shnum; i++)
            {
                var h = shoff + ((long)i * shentsize);
                sections.Add(new Section(U32(elf, h + 4), U64(elf, h + 0x18), U64(elf, h + 0x20), U32(elf, h + 0x28), U32(elf, h + 0x2c)));
            }

            return sections;
        }

        private static long StringTable(byte[] elf, long index)
        {
            var sections = Sections(elf);
            if (index >= sections.Count)
            {
                throw new InvalidDataException("bad ELF string table index");
            }

            return sections[(int)index].Offset;
        }

        private static string CString(byte[] elf, long offset)
        {
            Check(elf, offset, 1);
            var end = offset;
            while (end < elf.Length && elf[end] != 0)
            {
                end++;
            }

            return Encoding.ASCII.GetString(elf, (int)offset, (int)(end - offset));
        }

        private static ushort U16(byte[] b, long o)
        {
            Check(b, o, 2);
            return (ushort)(b[o] | (b[o + 1] << 8));
        }

        private static uint U32(byte[] b, long o)
        {
            Check(b, o, 4);
            return (uint)(b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24));
        }

        private static long U64(byte[] b, long o)
        {
            Check(b, o, 8);
            var value = (long)U32(b, o) | ((long)U32(b, o + 4) << 32);
            if (value < 0 || value > b.Length)
            {
                throw new InvalidDataException("ELF offset out of range");
            }

            return value;
        }

        private static void Check(byte[] b, long offset, int length)
        {
            if (offset < 0 || offset + length > b.Length)
            {
                throw new InvalidDataException("ELF structure out of range");
            }
        }

        private sealed class Section
        {
            public Section(uint type, long offset, long size, uint link, uint info)
            {
                Type = type;
                Offset = offset;
                Size = size;
                Link = link;
                Info = info;
            }

            public uint Type { get; }

            public long Offset { get; }

            public long Size { get; }

            public uint Link { get; }

            public uint Info { get; }
        }
    }
}

#if !POKECLASSIFIER_LIBRARY
/// <summary>
/// MSBuild task (compiled from this file by RoslynCodeTaskFactory): patches the build or publish output's copies of
/// libLibTorchSharp.so where the system's libstdc++ lacks GLIBCXX_3.4.32. Never fails the build; it logs what it did.
/// </summary>
public sealed class PokeClassifierPatchLibTorchSharp : Microsoft.Build.Utilities.Task
{
    /// <summary>Candidate copies of libLibTorchSharp.so; those that do not exist are skipped.</summary>
    [Microsoft.Build.Framework.Required]
    public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

    /// <summary>Patch even where the system's libstdc++ has the version.</summary>
    public bool Always { get; set; }

    /// <summary>The NuGet package cache, never modified.</summary>
    public string? NuGetPackageRoot { get; set; }

    /// <inheritdoc />
    public override bool Execute()
    {
        foreach (var item in Files)
        {
            var path = item.GetMetadata("FullPath");
            var result = PokeClassifier.Backbones.Torch.LibTorchSharpCompat.Apply(path, Always, string.IsNullOrEmpty(NuGetPackageRoot) ? null : NuGetPackageRoot);
            switch (result.Outcome)
            {
                case PokeClassifier.Backbones.Torch.LibTorchSharpPatchOutcome.Missing:
                    break;
                case PokeClassifier.Backbones.Torch.LibTorchSharpPatchOutcome.Patched:
                case PokeClassifier.Backbones.Torch.LibTorchSharpPatchOutcome.UnknownFile:
                case PokeClassifier.Backbones.Torch.LibTorchSharpPatchOutcome.Refused:
                case PokeClassifier.Backbones.Torch.LibTorchSharpPatchOutcome.Failed:
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High, "PokeClassifier: " + result.Message);
                    break;
                default:
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, "PokeClassifier: " + result.Message);
                    break;
            }
        }

        return true;
    }
}
#endif
