namespace PokeClassifier.Data;

/// <summary>The per-user cache folder: <c>$XDG_CACHE_HOME</c> or <c>~/.cache</c> on Linux and macOS, LocalApplicationData on Windows.</summary>
internal static class UserCacheFolder
{
    public static string Root
    {
        get
        {
            if (OperatingSystem.IsWindows())
            {
                return Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
            }

            // The XDG spec says a relative value is invalid and must be ignored.
            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            if (!string.IsNullOrWhiteSpace(xdg) && Path.IsPathRooted(xdg))
            {
                return xdg;
            }

            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile, Environment.SpecialFolderOption.DoNotVerify), ".cache");
        }
    }

    /// <summary>The folder of this library inside the user cache.</summary>
    public static string PokeClassifier => Path.Combine(Root, "pokeclassifier");
}
