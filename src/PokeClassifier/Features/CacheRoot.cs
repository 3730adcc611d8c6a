namespace PokeClassifier.Features;

/// <summary>The per-user cache root shared by features, datasets and weights.</summary>
internal static class CacheRoot
{
    public static string Directory
    {
        get
        {
            var explicitRoot = Environment.GetEnvironmentVariable("POKECLASSIFIER_CACHE");
            if (!string.IsNullOrEmpty(explicitRoot))
            {
                return explicitRoot;
            }

            if (OperatingSystem.IsWindows())
            {
                return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "PokeClassifier", "cache");
            }

            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            var root = !string.IsNullOrEmpty(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "pokeclassifier");
        }
    }
}
