namespace PokeClassifier;

/// <summary>
/// The per-user cache folder shared by features, datasets and downloads: <c>$POKECLASSIFIER_CACHE</c> when set; otherwise
/// <c>pokeclassifier</c> under <c>$XDG_CACHE_HOME</c> or <c>~/.cache</c> (Linux, macOS), or under local application data (Windows).
/// </summary>
internal static class CacheRoot
{
    public static string Directory
    {
        get
        {
            var explicitRoot = Environment.GetEnvironmentVariable("POKECLASSIFIER_CACHE");
            if (!string.IsNullOrWhiteSpace(explicitRoot))
            {
                return Path.GetFullPath(explicitRoot);
            }

            if (OperatingSystem.IsWindows())
            {
                return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify), "pokeclassifier");
            }

            // The XDG spec says a relative value is invalid and must be ignored.
            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            var root = !string.IsNullOrWhiteSpace(xdg) && Path.IsPathRooted(xdg)
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile, Environment.SpecialFolderOption.DoNotVerify), ".cache");
            return Path.Combine(root, "pokeclassifier");
        }
    }
}
