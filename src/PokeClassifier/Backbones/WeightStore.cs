using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;

namespace PokeClassifier.Backbones;

/// <summary>
/// Finds a backbone's weights file, in this order: an explicit local path (verified); the cache folder (verified; a damaged copy is
/// deleted and fetched again); then, when downloads are allowed, the source's URL — streamed to a temporary file in the cache folder
/// while its SHA-256 is computed, checked for truncation, verified, and renamed into place atomically, with a timeout and retries.
/// Processes and tasks that fetch the same file at once take turns on a lock file, and whoever comes second finds the file
/// already there, so they all end with one good copy. When the file cannot be had, a <see cref="WeightsUnavailableException"/>
/// says which file, its checksum, where to put it, its URL and how to produce it. Thread-safe.
/// </summary>
public sealed class WeightStore
{
    private const int BufferSize = 1 << 16;
    private const long ReportEvery = 1 << 20;
    private static readonly TimeSpan MaxLockPoll = TimeSpan.FromMilliseconds(250);

    /// <summary>Creates a store with <paramref name="options"/> (validated), or the defaults.</summary>
    /// <exception cref="ArgumentException">An option is invalid (all problems listed).</exception>
    public WeightStore(WeightStoreOptions? options = null)
    {
        Options = options ?? new WeightStoreOptions();
        Options.Validate();
        CacheDirectory = Path.GetFullPath(Options.CacheDirectory ?? WeightStoreOptions.DefaultCacheDirectory);
    }

    /// <summary>The options.</summary>
    public WeightStoreOptions Options { get; }

    /// <summary>The cache folder (absolute).</summary>
    public string CacheDirectory { get; }

    /// <summary>Whether downloads happen: <see cref="WeightStoreOptions.AllowDownload"/> and not offline by <see cref="WeightStoreOptions.OfflineVariable"/>.</summary>
    public bool DownloadsAllowed => Options.AllowDownload && !WeightStoreOptions.OfflineByEnvironment;

    /// <summary>Where <paramref name="source"/> lives in the cache.</summary>
    public string GetCachePath(WeightSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return Path.Combine(CacheDirectory, source.FileName);
    }

    /// <summary>Returns the path of a verified copy of <paramref name="source"/>: <paramref name="explicitPath"/>, the cached copy, or a fresh download.</summary>
    /// <param name="source">The file.</param>
    /// <param name="explicitPath">A local copy to use instead of the cache; it must exist and match the checksum.</param>
    /// <param name="progress">Download progress, reported only while downloading.</param>
    /// <param name="cancellationToken">Cancels waiting and downloading; a partial download is removed.</param>
    /// <exception cref="WeightsUnavailableException">The file is missing, damaged, or could not be downloaded.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public async Task<string> ResolveAsync(WeightSource source, string? explicitPath = null, IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (explicitPath is not null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(explicitPath);
            return await Task.Run(() => VerifyExplicit([source], explicitPath), cancellationToken).ConfigureAwait(false);
        }

        var target = GetCachePath(source);
        if (await Task.Run(() => IsGood(source, target), cancellationToken).ConfigureAwait(false))
        {
            return target;
        }

        if (!File.Exists(target) && CannotDownload(source) is { } why)
        {
            throw Unavailable(source, $"it is not in the cache and {why}");
        }

        Directory.CreateDirectory(CacheDirectory);
        using var gate = await AcquireLockAsync(source, target, cancellationToken).ConfigureAwait(false);

        // Whoever held the lock before us may have produced the file.
        if (await Task.Run(() => IsGood(source, target), cancellationToken).ConfigureAwait(false))
        {
            return target;
        }

        var damaged = string.Empty;
        if (File.Exists(target))
        {
            damaged = $"the cached copy had SHA-256 {FileHash.Sha256(target)} and was deleted";
            File.Delete(target);
        }

        if (CannotDownload(source) is { } reason)
        {
            throw Unavailable(source, damaged.Length > 0 ? $"{damaged}, and {reason}" : $"it is not in the cache and {reason}");
        }

        DeleteStalePartials(source);
        await DownloadAsync(source, target, progress, cancellationToken).ConfigureAwait(false);
        return target;
    }

    /// <summary>
    /// Resolves a backbone's model file from its <see cref="BackboneSpec.WeightSources"/> (alternatives, tried in order: every cached copy
    /// first, then downloads) and returns the spec with <see cref="BackboneSpec.ModelPath"/> set to it. <paramref name="weightsPath"/>,
    /// else a non-empty <see cref="BackboneSpec.ModelPath"/>, is taken as an explicit path and verified against the sources' checksums.
    /// A catalog backbone whose weights are a checkpoint (<see cref="BackboneSpec.Pretrained"/>) is then converted to an ONNX graph
    /// in-process, once: the graph is cached under <c>converted/</c>, named after the architecture, the input size and the checkpoint's
    /// SHA-256, and the returned spec points at it.
    /// </summary>
    /// <exception cref="WeightsUnavailableException">No source could be had; the message says how to get the file.</exception>
    /// <exception cref="ModelLoadException">The checkpoint does not fit the architecture (the first mismatching tensor is named; a cached copy is deleted).</exception>
    /// <exception cref="PokeClassifierException">The converted graph could not be written (a full disk); nothing is left in the cache.</exception>
    public async Task<BackboneSpec> ResolveAsync(BackboneSpec backbone, string? weightsPath = null, IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backbone);
        if (backbone.Engine == BackboneEngine.TorchSharp && !TorchSharpPackage.IsAvailable)
        {
            throw new PokeClassifierException(TorchSharpPackage.Missing($"The TorchSharp backbone '{backbone.Name}'"));
        }

        if (BackboneConverter.NeedsConversion(backbone) && !TorchSharpPackage.IsAvailable && !BackboneConverter.AnyConverted(CacheDirectory, backbone))
        {
            // Before any download: the checkpoint could not be converted here.
            throw new PokeClassifierException(TorchSharpPackage.Missing(BackboneConverter.ConversionFeature(backbone)));
        }

        var (resolved, fromCache) = await ResolveFileAsync(backbone, weightsPath, progress, cancellationToken).ConfigureAwait(false);
        return BackboneConverter.NeedsConversion(backbone) && !BackboneConverter.IsConverted(resolved.ModelPath)
            ? await Task.Run(() => ConvertCheckpoint(resolved, fromCache, cancellationToken), cancellationToken).ConfigureAwait(false)
            : resolved;
    }

    /// <summary>Opens the temporary file a conversion writes (tests pass one on a full disk); <see langword="null"/> for a plain file.</summary>
    internal Func<string, Stream>? OpenConversionFile { get; init; }

    private async Task<(BackboneSpec Spec, bool FromCache)> ResolveFileAsync(BackboneSpec backbone, string? weightsPath, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        var explicitPath = weightsPath ?? (string.IsNullOrEmpty(backbone.ModelPath) ? null : backbone.ModelPath);
        var sources = backbone.WeightSources;
        if (explicitPath is not null)
        {
            // A spec resolved before (its model path the converted graph) is taken as it is.
            if (sources.Count == 0 || (BackboneConverter.NeedsConversion(backbone) && BackboneConverter.IsConverted(explicitPath) && File.Exists(explicitPath)))
            {
                return (backbone with { ModelPath = Path.GetFullPath(explicitPath) }, false);
            }

            var path = await Task.Run(() => VerifyExplicit(sources, explicitPath), cancellationToken).ConfigureAwait(false);
            return (backbone with { ModelPath = path }, false);
        }

        if (sources.Count == 0)
        {
            throw new ArgumentException($"Backbone {backbone.Name} has neither a model path nor weight sources.", nameof(backbone));
        }

        foreach (var source in sources)
        {
            if (await Task.Run(() => IsGood(source, GetCachePath(source)), cancellationToken).ConfigureAwait(false))
            {
                return (backbone with { ModelPath = GetCachePath(source) }, true);
            }
        }

        WeightsUnavailableException? first = null;
        foreach (var source in sources)
        {
            try
            {
                return (backbone with { ModelPath = await ResolveAsync(source, null, progress, cancellationToken).ConfigureAwait(false) }, true);
            }
            catch (WeightsUnavailableException e)
            {
                first ??= e;
            }
        }

        throw first!;
    }

    /// <summary>Converts a resolved checkpoint; a cached checkpoint that does not fit the architecture is deleted, as it can never be used.</summary>
    private BackboneSpec ConvertCheckpoint(BackboneSpec resolved, bool fromCache, CancellationToken cancellationToken)
    {
        try
        {
            return BackboneConverter.Convert(resolved, resolved.ModelPath, CacheDirectory, OpenConversionFile, cancellationToken);
        }
        catch (ModelLoadException e) when (fromCache)
        {
            TryDelete(resolved.ModelPath);
            throw new ModelLoadException($"{e.Message.TrimEnd('.')}. The cached file was deleted.", e);
        }
    }

    /// <summary>
    /// The backbone with its model file taken from the cache, without downloading (for callers that cannot await); a checkpoint is
    /// converted when its graph is not cached yet. A backbone that already has a model path is returned as it is.
    /// </summary>
    internal BackboneSpec ResolveCached(BackboneSpec backbone)
    {
        if (!string.IsNullOrEmpty(backbone.ModelPath) || backbone.WeightSources.Count == 0)
        {
            return backbone;
        }

        foreach (var source in backbone.WeightSources)
        {
            if (IsGood(source, GetCachePath(source)))
            {
                var resolved = backbone with { ModelPath = GetCachePath(source) };
                return BackboneConverter.NeedsConversion(backbone) ? ConvertCheckpoint(resolved, fromCache: true, CancellationToken.None) : resolved;
            }
        }

        throw Unavailable(backbone.WeightSources[0],
            $"it is not in the cache (this call does not download: resolve the backbone first with WeightStore.ResolveAsync, or pass it to ClassificationBuilder.WithBackbone, which does)");
    }

    private string? CannotDownload(WeightSource source)
    {
        if (source.Url is null)
        {
            return "it has no download URL";
        }

        if (!Options.AllowDownload)
        {
            return "downloads are off (WeightStoreOptions.AllowDownload is false)";
        }

        return WeightStoreOptions.OfflineByEnvironment ? $"downloads are off ({WeightStoreOptions.OfflineVariable}=1)" : null;
    }

    private static bool IsGood(WeightSource source, string path)
    {
        try
        {
            return File.Exists(path) && FileHash.Matches(source, path);
        }
        catch (FileNotFoundException)
        {
            return false; // replaced or removed while we looked
        }
    }

    private string VerifyExplicit(IReadOnlyList<WeightSource> sources, string explicitPath)
    {
        var full = Path.GetFullPath(explicitPath);
        if (!File.Exists(full))
        {
            throw Unavailable(sources[0], $"the path given for it, '{full}', does not exist");
        }

        if (sources.All(s => !s.HasChecksum))
        {
            return full;
        }

        var actual = FileHash.Sha256(full);
        if (sources.Any(s => FileHash.Matches(s, full)))
        {
            return full;
        }

        throw Unavailable(sources[0],
            $"the file given for it, '{full}', has SHA-256 {actual}, which matches none of the expected checksums ({string.Join(", ", sources.Where(s => s.HasChecksum).Select(s => s.Md5 is null ? s.Sha256 : "MD5 " + s.Md5))}); it is damaged or a different file");
    }

    private async Task<FileStream> AcquireLockAsync(WeightSource source, string target, CancellationToken cancellationToken)
    {
        // An exclusive open (flock on Unix, a share-mode lock on Windows) serialises fetchers across processes and within one.
        // The lock file is left in place: deleting it would let a late opener lock an unlinked file while another locks a new one.
        var lockPath = target + ".lock";
        var watch = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            }
            catch (IOException e) when (watch.Elapsed >= Options.LockTimeout)
            {
                throw Unavailable(source, $"another process has held its lock file '{lockPath}' for more than {Options.LockTimeout} (a download still running, or a stuck process)", e);
            }
            catch (IOException)
            {
                // held by another fetcher: wait and look again
            }
            catch (UnauthorizedAccessException e)
            {
                throw Unavailable(source, $"the cache folder cannot be written ({e.Message})", e);
            }

            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxLockPoll.Ticks));
        }
    }

    /// <summary>Partial files of this source left by a killed download (only the lock holder writes them, and we hold the lock).</summary>
    private void DeleteStalePartials(WeightSource source)
    {
        foreach (var partial in Directory.EnumerateFiles(CacheDirectory, source.FileName + ".*.partial"))
        {
            TryDelete(partial);
        }
    }

    private async Task DownloadAsync(WeightSource source, string target, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        var failures = new List<string>();
        using var handler = Options.HttpHandler is null ? new SocketsHttpHandler { ConnectTimeout = Options.Timeout, AutomaticDecompression = DecompressionMethods.None } : null;
        using var client = new HttpClient(Options.HttpHandler ?? handler!, disposeHandler: false) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.UserAgent.ParseAdd("PokeClassifier/" + (typeof(WeightStore).Assembly.GetName().Version?.ToString(3) ?? "0"));
        for (var attempt = 1; attempt <= Options.MaxAttempts; attempt++)
        {
            if (attempt > 1)
            {
                await Task.Delay(Options.RetryDelay * Math.Pow(2, attempt - 2), cancellationToken).ConfigureAwait(false);
            }

            var temp = Path.Combine(CacheDirectory, $"{source.FileName}.{Environment.ProcessId}.{Guid.NewGuid():N}.partial");
            try
            {
                var (hash, md5, failure, retryable) = await DownloadOnceAsync(client, source, temp, attempt, progress, cancellationToken).ConfigureAwait(false);
                if (hash is null)
                {
                    failures.Add(string.Create(CultureInfo.InvariantCulture, $"attempt {attempt}: {failure}"));
                    if (!retryable)
                    {
                        break;
                    }

                    continue;
                }

                if (!source.Matches(hash, md5))
                {
                    // Not retried: the server sends a different file, and sending it again would not change that.
                    throw Unavailable(source, $"the file downloaded from {Url(source)} has SHA-256 {hash}{(source.Md5 is null ? string.Empty : $" and MD5 {md5}")}, which does not match; it was discarded (the URL serves a different or damaged file)");
                }

                File.Move(temp, target, overwrite: true);
                return;
            }
            finally
            {
                TryDelete(temp);
            }
        }

        throw Unavailable(source, $"downloading it from {Url(source)} failed ({string.Join("; ", failures)})");
    }

    private async Task<(string? Hash, string? Md5, string? Failure, bool Retryable)> DownloadOnceAsync(
        HttpClient client, WeightSource source, string temp, int attempt, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        // One token cancels on the caller's request or after Timeout without progress; the timer restarts at every read.
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stall.CancelAfter(Options.Timeout);
        long received = 0;
        long? total = null;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Url(source));
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stall.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                var code = (int)response.StatusCode;
                return (null, null, $"the server answered {code} {response.ReasonPhrase}", code >= 500 || code is 408 or 429);
            }

            total = response.Content.Headers.ContentLength;
            progress?.Report(new DownloadProgress(source.FileName, 0, total, attempt));
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using var md5 = source.Md5 is null ? null : IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            var body = await response.Content.ReadAsStreamAsync(stall.Token).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize, FileOptions.Asynchronous);
                await using (file.ConfigureAwait(false))
                {
                    var buffer = new byte[BufferSize];
                    var nextReport = ReportEvery;
                    while (true)
                    {
                        stall.CancelAfter(Options.Timeout);
                        var read = await body.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
                        if (read == 0)
                        {
                            break;
                        }

                        sha.AppendData(buffer, 0, read);
                        md5?.AppendData(buffer, 0, read);
                        await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                        received += read;
                        if (received >= nextReport)
                        {
                            progress?.Report(new DownloadProgress(source.FileName, received, total, attempt));
                            nextReport = received + ReportEvery;
                        }
                    }

                    await file.FlushAsync(cancellationToken).ConfigureAwait(false);
                    file.Flush(flushToDisk: true); // the rename must never expose a file whose bytes are not on disk
                }
            }

            if (total is { } expected && received != expected)
            {
                return (null, null, $"the body was truncated: {Bytes(received)} of {Bytes(expected)} bytes arrived", true);
            }

            progress?.Report(new DownloadProgress(source.FileName, received, total ?? received, attempt));
            return (Convert.ToHexStringLower(sha.GetHashAndReset()), md5 is null ? null : Convert.ToHexStringLower(md5.GetHashAndReset()), null, false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            var seconds = Options.Timeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture);
            return (null, null, received == 0 && total is null
                ? $"no answer from the server within {seconds} s"
                : $"the server went silent for {seconds} s after {Bytes(received)} of {(total is { } t ? Bytes(t) : "?")} bytes", true);
        }
        catch (HttpRequestException e)
        {
            return (null, null, $"the request failed: {e.Message}", true);
        }
        catch (IOException e)
        {
            // HttpIOException and socket errors while reading the body: the connection broke mid-transfer.
            return (null, null, $"the connection broke after {Bytes(received)}{(total is { } t ? " of " + Bytes(t) : string.Empty)} bytes ({e.Message})", true);
        }
    }

    /// <summary>The source's URL, or its file name under <see cref="WeightStoreOptions.Mirror"/> when one is set.</summary>
    private Uri? Url(WeightSource source) => source.Url is null ? null : Mirror is { } mirror ? new Uri(mirror, Uri.EscapeDataString(source.FileName)) : source.Url;

    private Uri? Mirror => Options.Mirror ?? WeightStoreOptions.MirrorByEnvironment;

    private static string Bytes(long count) => count.ToString("N0", CultureInfo.InvariantCulture);

    private WeightsUnavailableException Unavailable(WeightSource source, string reason, Exception? inner = null) =>
        new(source, CacheDirectory, reason, inner);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // best effort: a leftover partial is deleted by the next fetch of the same file
        }
        catch (UnauthorizedAccessException)
        {
            // same
        }
    }
}
