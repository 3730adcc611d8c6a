namespace PokeClassifier.Backbones;

/// <summary>Options of a <see cref="WeightStore"/>: where weights are cached, whether and how they are downloaded.</summary>
public sealed class WeightStoreOptions
{
    /// <summary>The environment variable that, set to <c>1</c> (or <c>true</c>), turns downloads off whatever <see cref="AllowDownload"/> says.</summary>
    public const string OfflineVariable = "POKECLASSIFIER_OFFLINE";

    /// <summary>The environment variable that names a mirror (see <see cref="Mirror"/>) when <see cref="Mirror"/> is not set.</summary>
    public const string MirrorVariable = "POKECLASSIFIER_WEIGHTS_MIRROR";

    /// <summary>
    /// A base URL that serves the weight files under their own names (<c>{Mirror}/densenet201-c1103571.pth</c>), used instead of
    /// each file's URL: a company mirror, or a local server for an air-gapped machine. Checksums are verified as for the originals.
    /// <see langword="null"/> means the environment variable <see cref="MirrorVariable"/>, else each file's own URL.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public Uri? Mirror { get; init; }

    /// <summary>The folder where weights are looked for and downloaded to; <see langword="null"/> means <see cref="DefaultCacheDirectory"/>.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? CacheDirectory { get; init; }

    /// <summary>Whether a file missing from the cache may be downloaded from its URL. The environment variable <see cref="OfflineVariable"/> set to 1 also turns it off.</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool AllowDownload { get; init; } = true;

    /// <summary>
    /// The longest wait for the server during a download: to connect, for the response headers, or for the next bytes of the body.
    /// A download that keeps receiving bytes is never cut, however large; a server that goes silent this long fails the attempt.
    /// </summary>
    /// <value>The default is 100 seconds.</value>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>How many times a download is tried before giving up (connection failures, timeouts, truncated bodies, server errors 5xx, 408 and 429).</summary>
    /// <value>The default is 3.</value>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>The wait before the second attempt; it doubles before each further one.</summary>
    /// <value>The default is 1 second.</value>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait for another process (or task) that is downloading the same file to finish.</summary>
    /// <value>The default is 30 minutes.</value>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>The HTTP handler to download with (a proxy, credentials, a test handler); it is not disposed. <see langword="null"/> means a new <see cref="SocketsHttpHandler"/> per download.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public HttpMessageHandler? HttpHandler { get; init; }

    /// <summary>
    /// The default cache: <c>weights</c> under the library's cache root — <c>$POKECLASSIFIER_CACHE</c> when set, else
    /// <c>$XDG_CACHE_HOME/pokeclassifier</c> or <c>~/.cache/pokeclassifier</c> (local application data on Windows).
    /// </summary>
    public static string DefaultCacheDirectory => Path.Combine(CacheRoot.Directory, "weights");

    /// <summary>Whether the environment variable <see cref="OfflineVariable"/> asks for offline mode.</summary>
    public static bool OfflineByEnvironment =>
        Environment.GetEnvironmentVariable(OfflineVariable)?.Trim() is "1" or "true" or "TRUE" or "True" or "yes";

    /// <summary>The mirror named by the environment variable <see cref="MirrorVariable"/>, if it holds an absolute http(s) URL.</summary>
    internal static Uri? MirrorByEnvironment =>
        Environment.GetEnvironmentVariable(MirrorVariable) is { Length: > 0 } value && Uri.TryCreate(value.EndsWith('/') ? value : value + "/", UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" ? uri : null;

    /// <summary>Checks every option and throws one <see cref="ArgumentException"/> listing every problem.</summary>
    public void Validate()
    {
        var errors = new List<string>();
        if (CacheDirectory is not null && string.IsNullOrWhiteSpace(CacheDirectory))
        {
            errors.Add($"{nameof(CacheDirectory)} must not be empty (use null for the default).");
        }

        if (Timeout <= TimeSpan.Zero && Timeout != System.Threading.Timeout.InfiniteTimeSpan)
        {
            errors.Add($"{nameof(Timeout)} must be positive or infinite (was {Timeout}).");
        }

        if (MaxAttempts < 1)
        {
            errors.Add($"{nameof(MaxAttempts)} must be at least 1 (was {MaxAttempts}).");
        }

        if (RetryDelay < TimeSpan.Zero)
        {
            errors.Add($"{nameof(RetryDelay)} must not be negative (was {RetryDelay}).");
        }

        if (LockTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{nameof(LockTimeout)} must be positive (was {LockTimeout}).");
        }

        if (Mirror is not null && (!Mirror.IsAbsoluteUri || Mirror.Scheme is not ("http" or "https") || !Mirror.AbsolutePath.EndsWith('/')))
        {
            errors.Add($"{nameof(Mirror)} must be an absolute http or https URL ending with '/' (was {Mirror}).");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid weight store options: " + string.Join(" ", errors));
        }
    }
}
