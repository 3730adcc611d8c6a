using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace PokeClassifier.Tests.Browser;

/// <summary>
/// A real headless Chromium (Debian's <c>chromium</c> package, or <c>$CHROMIUM_PATH</c>) driven over its DevTools protocol on a
/// WebSocket: no browser download, no extra package. <see cref="LaunchAsync"/> throws with a clear message when no browser can be
/// started, so browser tests fail loudly rather than skip.
/// </summary>
internal sealed partial class Chromium : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _profile;
    private readonly CdpConnection _connection;

    private Chromium(Process process, string profile, CdpConnection connection)
    {
        _process = process;
        _profile = profile;
        _connection = connection;
    }

    /// <summary>The browser's version line (e.g. <c>Chrome/131.0.6778.85</c>).</summary>
    public string Version { get; private set; } = string.Empty;

    public static string? FindExecutable()
    {
        var env = Environment.GetEnvironmentVariable("CHROMIUM_PATH");
        if (!string.IsNullOrEmpty(env))
        {
            return File.Exists(env) ? env : null;
        }

        foreach (var name in new[] { "chromium", "chromium-browser", "google-chrome", "google-chrome-stable" })
        {
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':'))
            {
                var candidate = Path.Combine(dir, name);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    /// <summary>Starts a headless browser with a throw-away profile.</summary>
    /// <exception cref="InvalidOperationException">No Chromium is installed or it does not start (the message says how to install it).</exception>
    public static async Task<Chromium> LaunchAsync()
    {
        var exe = FindExecutable() ?? throw new InvalidOperationException(
            "No Chromium found (looked for $CHROMIUM_PATH, chromium, chromium-browser, google-chrome on PATH). The browser tests need a real headless browser: " +
            "install Debian's package with 'apt-get update && apt-get install -y chromium' (.ci/run does this), or set CHROMIUM_PATH.");
        var profile = Path.Combine(Path.GetTempPath(), $"chromium-profile-{Guid.NewGuid():N}");
        Directory.CreateDirectory(profile);
        var start = new ProcessStartInfo(exe)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
                     "--disable-extensions", "--disable-background-networking", "--disable-sync", "--mute-audio", "--hide-scrollbars",
                     "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", $"--user-data-dir={profile}", "--window-size=1280,900", "about:blank",
                 })
        {
            start.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"'{exe}' did not start.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"Chromium at '{exe}' cannot be launched: {e.Message}", e);
        }

        var stderr = new StringBuilder();
        var endpoint = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                endpoint.TrySetException(new InvalidOperationException($"Chromium at '{exe}' exited before it opened its DevTools endpoint. Its output:\n{stderr}"));
                return;
            }

            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }

            var match = DevToolsLine().Match(e.Data);
            if (match.Success)
            {
                endpoint.TrySetResult(match.Groups[1].Value);
            }
        };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        string url;
        try
        {
            url = await endpoint.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            Kill(process);
            throw new InvalidOperationException($"Chromium at '{exe}' did not open its DevTools endpoint within 60 s. Its output:\n{stderr}");
        }
        catch
        {
            Kill(process);
            throw;
        }

        var connection = await CdpConnection.ConnectAsync(new Uri(url));
        var browser = new Chromium(process, profile, connection);
        var version = await connection.SendAsync("Browser.getVersion", null, null);
        browser.Version = version["product"]?.GetValue<string>() ?? string.Empty;
        return browser;
    }

    /// <summary>Opens a new tab of <paramref name="width"/> x <paramref name="height"/> CSS pixels.</summary>
    public async Task<CdpPage> NewPageAsync(int width = 1280, int height = 900)
    {
        var target = await _connection.SendAsync("Target.createTarget", new JsonObject { ["url"] = "about:blank" }, null);
        var attached = await _connection.SendAsync("Target.attachToTarget", new JsonObject { ["targetId"] = target["targetId"]!.GetValue<string>(), ["flatten"] = true }, null);
        var page = new CdpPage(_connection, attached["sessionId"]!.GetValue<string>());
        await page.SendAsync("Page.enable");
        await page.SendAsync("Runtime.enable");
        await page.SendAsync("Log.enable");
        await page.SendAsync("Emulation.setDeviceMetricsOverride", new JsonObject { ["width"] = width, ["height"] = height, ["deviceScaleFactor"] = 1, ["mobile"] = false });
        return page;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _connection.SendAsync("Browser.close", null, null).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is TimeoutException or WebSocketException or InvalidOperationException or OperationCanceledException)
        {
        }

        await _connection.DisposeAsync();
        if (!_process.WaitForExit(5000))
        {
            Kill(_process);
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }

    [GeneratedRegex(@"DevTools listening on (ws://\S+)")]
    private static partial Regex DevToolsLine();
}

/// <summary>One tab: commands, script evaluation, and every script error or console error it reported.</summary>
internal sealed class CdpPage(CdpConnection connection, string sessionId)
{
    /// <summary>Uncaught exceptions, console.error calls and error log entries, as text.</summary>
    public IReadOnlyList<string> Errors => connection.ErrorsOf(sessionId);

    public Task<JsonNode> SendAsync(string method, JsonObject? parameters = null) => connection.SendAsync(method, parameters, sessionId);

    /// <summary>Navigates and waits for the load event.</summary>
    public async Task NavigateAsync(string url)
    {
        var loaded = connection.WaitForEvent(sessionId, "Page.loadEventFired");
        var result = await SendAsync("Page.navigate", new JsonObject { ["url"] = url });
        if (result["errorText"] is { } error)
        {
            throw new InvalidOperationException($"Navigation to {url} failed: {error}");
        }

        await loaded.WaitAsync(TimeSpan.FromSeconds(60));
    }

    /// <summary>Evaluates <paramref name="expression"/> (promises awaited) and returns its value as JSON; a script exception is thrown.</summary>
    public async Task<JsonElement> EvaluateAsync(string expression)
    {
        var result = await SendAsync("Runtime.evaluate", new JsonObject { ["expression"] = expression, ["returnByValue"] = true, ["awaitPromise"] = true });
        if (result["exceptionDetails"] is { } details)
        {
            throw new InvalidOperationException($"Script failed: {details["exception"]?["description"] ?? details["text"]}\n{expression}");
        }

        var value = result["result"]?["value"];
        return value is null ? default : JsonSerializer.Deserialize<JsonElement>(value.ToJsonString());
    }

    /// <summary>Polls <paramref name="expression"/> until it is true.</summary>
    public async Task WaitForAsync(string expression, TimeSpan? timeout = null)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var value = await EvaluateAsync($"!!({expression})");
            if (value.ValueKind == JsonValueKind.True)
            {
                return;
            }

            if (watch.Elapsed > (timeout ?? TimeSpan.FromSeconds(60)))
            {
                throw new TimeoutException($"'{expression}' did not become true within {(timeout ?? TimeSpan.FromSeconds(60)).TotalSeconds} s. Page errors: {string.Join(" | ", Errors)}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Sets the files of an <c>input type=file</c>, as a user choosing them does (fires <c>change</c>).</summary>
    public async Task SetInputFilesAsync(string selector, params string[] paths)
    {
        var document = await SendAsync("DOM.getDocument", new JsonObject { ["depth"] = 0 });
        var node = await SendAsync("DOM.querySelector", new JsonObject { ["nodeId"] = document["root"]!["nodeId"]!.GetValue<int>(), ["selector"] = selector });
        var id = node["nodeId"]!.GetValue<int>();
        if (id == 0)
        {
            throw new InvalidOperationException($"No element matches '{selector}'.");
        }

        await SendAsync("DOM.setFileInputFiles", new JsonObject { ["nodeId"] = id, ["files"] = new JsonArray(paths.Select(p => (JsonNode)JsonValue.Create(p)!).ToArray()) });
    }

    /// <summary>A real mouse click at the centre of the first element matching <paramref name="selector"/> (scrolled into view).</summary>
    public async Task ClickAsync(string selector)
    {
        var box = await EvaluateAsync($"(() => {{ const e = document.querySelector({JsonSerializer.Serialize(selector)}); if (!e) return null; e.scrollIntoView({{block:'center'}}); const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()");
        if (box.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidOperationException($"No element matches '{selector}'.");
        }

        double x = box[0].GetDouble(), y = box[1].GetDouble();
        foreach (var type in new[] { "mouseMoved", "mousePressed", "mouseReleased" })
        {
            await SendAsync("Input.dispatchMouseEvent", new JsonObject { ["type"] = type, ["x"] = x, ["y"] = y, ["button"] = "left", ["clickCount"] = 1 });
        }
    }
}

/// <summary>The WebSocket to the browser: numbered commands with their answers, and events per session.</summary>
internal sealed class CdpConnection : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonNode>> _pending = new();
    private readonly ConcurrentDictionary<string, List<string>> _errors = new();
    private readonly ConcurrentDictionary<(string Session, string Method), List<TaskCompletionSource>> _waiters = new();
    private readonly SemaphoreSlim _send = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _receive;
    private int _next;

    private CdpConnection(ClientWebSocket socket)
    {
        _socket = socket;
        _receive = Task.Run(ReceiveAsync);
    }

    public static async Task<CdpConnection> ConnectAsync(Uri uri)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await socket.ConnectAsync(uri, CancellationToken.None);
        return new CdpConnection(socket);
    }

    public IReadOnlyList<string> ErrorsOf(string session)
    {
        var list = _errors.GetOrAdd(session, _ => []);
        lock (list)
        {
            return list.ToArray();
        }
    }

    public Task WaitForEvent(string session, string method)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var list = _waiters.GetOrAdd((session, method), _ => []);
        lock (list)
        {
            list.Add(tcs);
        }

        return tcs.Task;
    }

    public async Task<JsonNode> SendAsync(string method, JsonObject? parameters, string? session)
    {
        var id = Interlocked.Increment(ref _next);
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
        if (session is not null)
        {
            message["sessionId"] = session;
        }

        var tcs = new TaskCompletionSource<JsonNode>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = tcs;
        var bytes = Encoding.UTF8.GetBytes(message.ToJsonString());
        await _send.WaitAsync();
        try
        {
            await _socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        }
        finally
        {
            _send.Release();
        }

        return await tcs.Task.WaitAsync(TimeSpan.FromSeconds(60));
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[1 << 16];
        var message = new MemoryStream();
        try
        {
            while (!_stop.IsCancellationRequested && _socket.State == WebSocketState.Open)
            {
                var result = await _socket.ReceiveAsync(buffer, _stop.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage)
                {
                    continue;
                }

                var node = JsonNode.Parse(message.ToArray())!;
                message.SetLength(0);
                Dispatch(node);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException)
        {
        }
        finally
        {
            foreach (var pending in _pending.Values)
            {
                pending.TrySetException(new InvalidOperationException("The browser connection closed."));
            }
        }
    }

    private void Dispatch(JsonNode node)
    {
        if (node["id"] is { } idNode)
        {
            if (_pending.TryRemove(idNode.GetValue<int>(), out var tcs))
            {
                if (node["error"] is { } failure)
                {
                    tcs.TrySetException(new InvalidOperationException($"DevTools error: {failure["message"]}"));
                }
                else
                {
                    tcs.TrySetResult(node["result"] ?? new JsonObject());
                }
            }

            return;
        }

        var method = node["method"]?.GetValue<string>() ?? string.Empty;
        var session = node["sessionId"]?.GetValue<string>() ?? string.Empty;
        var p = node["params"];
        string? error = method switch
        {
            "Runtime.exceptionThrown" => $"uncaught: {p?["exceptionDetails"]?["exception"]?["description"] ?? p?["exceptionDetails"]?["text"]}",
            "Runtime.consoleAPICalled" when p?["type"]?.GetValue<string>() is "error" or "assert" => $"console.error: {string.Join(" ", (p["args"]?.AsArray() ?? []).Select(a => a?["value"]?.ToString() ?? a?["description"]?.ToString()))}",
            "Log.entryAdded" when p?["entry"]?["level"]?.GetValue<string>() == "error" => $"log: {p["entry"]?["text"]} {p["entry"]?["url"]}",
            _ => null,
        };
        if (error is not null)
        {
            var list = _errors.GetOrAdd(session, _ => []);
            lock (list)
            {
                list.Add(error);
            }
        }

        if (_waiters.TryGetValue((session, method), out var waiters))
        {
            lock (waiters)
            {
                foreach (var w in waiters)
                {
                    w.TrySetResult();
                }

                waiters.Clear();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _receive.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
        }

        _socket.Dispose();
        _stop.Dispose();
        _send.Dispose();
    }
}
