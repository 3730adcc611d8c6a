using System.Diagnostics;
using System.IO.Compression;
using Spectre.Console.Testing;

namespace PokeClassifier.Cli.Tests;

/// <summary>
/// One hostile folder trained on once: folder-link cycles, a FIFO named x.png, 22 text files named .png, a one-image class, an
/// empty class, every picture of a class under two names, and a cache folder that cannot be created. The tool must finish within
/// seconds, say every problem on the console, and leave nothing out silently.
/// </summary>
public sealed class HostileCliFixture : IAsyncLifetime
{
    public static readonly TimeSpan NoHang = TimeSpan.FromMinutes(3);

    public string Root { get; } = CliFixture.NewTempDir("hostile-cli");

    public string Data => Path.Combine(Root, "data");

    public string Model => Path.Combine(Root, "model.zip");

    /// <summary>A cache folder under a regular file: refused even to root (ENOTDIR).</summary>
    public string Cache => Path.Combine(Root, "not-a-folder", "features");

    public CliRun Train { get; private set; } = null!;

    public static async Task<CliRun> RunAsync(params string[] args)
    {
        using var output = new TestConsole();
        using var errors = new TestConsole();
        output.Profile.Width = 4000;
        errors.Profile.Width = 4000;
        errors.Profile.Capabilities.Ansi = false;
        var code = await CliApp.RunAsync(args, output, errors, CancellationToken.None).WaitAsync(NoHang);
        return new CliRun(code, output.Output, errors.Output);
    }

    public async Task InitializeAsync()
    {
        CliFixture.DrawShapes(Data, 6, seed: 11, "circle", "square", "triangle");
        CliFixture.DrawShapes(Path.Combine(Root, "lonely-source"), 1, seed: 12, "circle");
        Directory.CreateDirectory(Path.Combine(Data, "lonely"));
        File.Move(Path.Combine(Root, "lonely-source", "circle", "circle_00.png"), Path.Combine(Data, "lonely", "one.png"));
        Directory.CreateDirectory(Path.Combine(Data, "empty"));
        Directory.CreateSymbolicLink(Path.Combine(Data, "circle", "loop"), ".");
        Directory.CreateSymbolicLink(Path.Combine(Data, "circle", "up"), "..");
        Run("mkfifo", Path.Combine(Data, "circle", "x.png"));
        for (var i = 0; i < 22; i++)
        {
            await File.WriteAllTextAsync(Path.Combine(Data, "square", $"notes_{i:D2}.png"), "this is text, not an image");
        }

        foreach (var file in Directory.GetFiles(Path.Combine(Data, "triangle")))
        {
            File.Copy(file, Path.Combine(Data, "triangle", "copy of " + Path.GetFileName(file)));
        }

        await File.WriteAllTextAsync(Path.Combine(Root, "not-a-folder"), "a file where the cache folder's parent should be");
        Train = await RunAsync("train", Data, "--out", Model, "--cache", Cache, "--split", "0.5,0,0.5", "--seed", "5");
    }

    public Task DisposeAsync()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }

        return Task.CompletedTask;
    }

    public static void Run(string file, params string[] args)
    {
        using var process = Process.Start(file, args);
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }
}

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class HostileInputCliTests(HostileCliFixture fixture) : IClassFixture<HostileCliFixture>
{
    [Fact]
    public void Given_a_hostile_folder_and_an_unwritable_cache_When_trained_Then_it_finishes_with_one_cache_warning_and_every_problem_said()
    {
        var run = fixture.Train;
        Assert.True(run.ExitCode == 0, run.ToString());
        var warning = Assert.Single(run.ErrorLines);
        Assert.StartsWith("warning: ", warning, StringComparison.Ordinal);
        Assert.Contains(fixture.Cache, warning, StringComparison.Ordinal);

        // Cycles not followed: each image once (6 + 6 - 22 text files + 12 triangles + 1 lonely).
        Assert.Contains("Dataset: 25 images in 4 classes", run.Output, StringComparison.Ordinal);
        Assert.Contains("too small to be tested", run.Output, StringComparison.Ordinal);
        Assert.Contains("lonely", run.Output, StringComparison.Ordinal);

        // 22 text files + the FIFO + two folder links + the empty class = 26: the first 20 shown, the rest in a file.
        Assert.Contains("26 file(s) skipped, the first 20:", run.Output, StringComparison.Ordinal);
        var listed = run.Output.Split('\n').Where(l => l.StartsWith("  /", StringComparison.Ordinal)).ToArray();
        Assert.Equal(20, listed.Length);
        var full = System.Text.RegularExpressions.Regex.Match(run.Output, @"the full list of 26 is in (\S+\.csv)").Groups[1].Value;
        var rows = File.ReadAllLines(full);
        Assert.Equal(27, rows.Length);
        Assert.Contains(rows, r => r.Contains("x.png", StringComparison.Ordinal) && r.Contains("NotARegularFile", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.Contains("/circle/loop", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.Contains("/circle/up", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.Contains("/empty,", StringComparison.Ordinal) && r.Contains("Empty", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Given_a_folder_with_a_FIFO_links_and_a_dangling_link_When_predicted_Then_every_image_gets_a_row_and_the_rest_are_listed_rows()
    {
        Assert.True(fixture.Train.ExitCode == 0, fixture.Train.ToString());
        var folder = Path.Combine(fixture.Data, "circle");
        var dangling = Path.Combine(fixture.Root, "dangling.png");
        File.CreateSymbolicLink(dangling, Path.Combine(fixture.Root, "deleted.png"));

        var run = await HostileCliFixture.RunAsync("predict", fixture.Model, folder, dangling, "--top", "2");

        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = run.Output.Split('\n');
        Assert.Equal(6, lines.Count(l => l.Contains("circle_", StringComparison.Ordinal) && !l.Contains("skipped", StringComparison.Ordinal)));
        Assert.Contains(lines, l => l.Contains("x.png", StringComparison.Ordinal) && l.Contains("skipped", StringComparison.Ordinal) && l.Contains("FIFO", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("loop", StringComparison.Ordinal) && l.Contains("skipped", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("dangling.png", StringComparison.Ordinal) && l.Contains("skipped", StringComparison.Ordinal));
        Assert.Contains("4 of 10 file(s) skipped", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_skipped_files_When_evaluated_without_a_report_Then_the_console_lists_them()
    {
        Assert.True(fixture.Train.ExitCode == 0, fixture.Train.ToString());

        var run = await HostileInputCliTests.RunWithNoCacheAsync("evaluate", fixture.Model, Path.Combine(fixture.Data));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.DoesNotContain("listed in the report", run.Output, StringComparison.Ordinal);
        Assert.Contains("file(s) skipped, the first 20:", run.Output, StringComparison.Ordinal);
        Assert.Contains("notes_00.png: NotAnImage", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_model_whose_label_names_are_damaged_When_exported_as_mlnet_Then_it_is_a_model_error_with_exit_4()
    {
        Assert.True(fixture.Train.ExitCode == 0, fixture.Train.ToString());
        var damaged = Path.Combine(fixture.Root, "damaged-labels.zip");
        using (var source = ZipFile.OpenRead(fixture.Model))
        using (var target = ZipFile.Open(damaged, ZipArchiveMode.Create))
        {
            foreach (var entry in source.Entries)
            {
                using var input = entry.Open();
                using var buffer = new MemoryStream();
                await input.CopyToAsync(buffer);
                var bytes = buffer.ToArray();
                if (entry.FullName.EndsWith("/LabelNames", StringComparison.Ordinal))
                {
                    Array.Fill(bytes, (byte)0xFF);
                }

                await using var output = target.CreateEntry(entry.FullName).Open();
                await output.WriteAsync(bytes);
            }
        }

        var run = await HostileCliFixture.RunAsync("export", damaged, "--format", "mlnet");

        Assert.True(run.ExitCode == ExitCodes.Model, run.ToString());
        var line = Assert.Single(run.ErrorLines);
        Assert.Contains("does not load as a plain ML.NET model", line, StringComparison.Ordinal);
        Assert.DoesNotContain("unexpected", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_an_unreadable_file_and_an_unreadable_sub_folder_When_predicted_by_a_process_without_root_override_Then_both_are_rows_and_the_rest_is_classified()
    {
        Assert.True(fixture.Train.ExitCode == 0, fixture.Train.ToString());
        var folder = Path.Combine(fixture.Root, "permissions");
        Directory.CreateDirectory(folder);
        foreach (var name in new[] { "a.png", "b.png" })
        {
            File.Copy(Path.Combine(fixture.Data, "circle", "circle_00.png"), Path.Combine(folder, name));
        }

        var locked = Path.Combine(folder, "locked");
        Directory.CreateDirectory(locked);
        File.Copy(Path.Combine(fixture.Data, "circle", "circle_01.png"), Path.Combine(locked, "c.png"));
        File.SetUnixFileMode(Path.Combine(folder, "b.png"), UnixFileMode.None);
        File.SetUnixFileMode(locked, UnixFileMode.None);
        try
        {
            // Tests run as root in CI, and root reads what chmod forbids: the tool runs as a child process whose capability
            // bounding set lacks the permission overrides (setpriv), so permission bits stop it as they stop any user.
            // Run in the folder and name it '.', so the rows' paths are short enough not to wrap in an 80-column table.
            var (code, output) = await RunWithoutPermissionOverrideAsync(folder, "predict", fixture.Model, ".", "--top", "1");

            Assert.True(code == 0, output);
            var lines = output.Split('\n');
            Assert.Contains(lines, l => l.Contains("a.png", StringComparison.Ordinal) && l.Contains("circle", StringComparison.Ordinal) && !l.Contains("skipped", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains("b.png", StringComparison.Ordinal) && l.Contains("skipped", StringComparison.Ordinal) && l.Contains("Unreadable", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains("locked", StringComparison.Ordinal) && l.Contains("skipped", StringComparison.Ordinal) && l.Contains("Unreadable", StringComparison.Ordinal));
            Assert.Contains("2 of 3 file(s) skipped", output, StringComparison.Ordinal);
        }
        finally
        {
            File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private static async Task<(int Code, string Output)> RunWithoutPermissionOverrideAsync(string workingDirectory, params string[] args)
    {
        var cli = Path.Combine(AppContext.BaseDirectory, "PokeClassifier.Cli.dll");
        var root = Environment.UserName == "root";
        var info = new ProcessStartInfo(root ? "setpriv" : "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.Environment["COLUMNS"] = "200";
        if (root)
        {
            foreach (var a in new[] { "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search", "dotnet" })
            {
                info.ArgumentList.Add(a);
            }
        }

        info.ArgumentList.Add(cli);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        info.WorkingDirectory = workingDirectory;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(HostileCliFixture.NoHang);
        return (process.ExitCode, await stdout + "\n--- errors ---\n" + await stderr);
    }

    private static Task<CliRun> RunWithNoCacheAsync(params string[] args) => HostileCliFixture.RunAsync([.. args, "--no-cache"]);
}
