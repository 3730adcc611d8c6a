using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PokeClassifier.Tests.Backbones;

/// <summary>
/// A minimal HTTP/1.1 server on 127.0.0.1 (a free port), speaking just enough to misbehave on purpose: good files (optionally
/// slow), error statuses, bodies shorter than their Content-Length, and connections that are accepted and never answered.
/// Every response closes its connection. Counts requests per path. Dispose stops it and every connection within seconds.
/// </summary>
internal sealed class LoopbackHttpServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, Func<Stream, int, CancellationToken, Task>> _routes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _hits = new(StringComparer.Ordinal);
    private readonly ConcurrentBag<Task> _connections = [];
    private readonly ConcurrentBag<TcpClient> _clients = [];
    private readonly Task _acceptLoop;

    public LoopbackHttpServer()
    {
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public int Port { get; }

    public Uri Url(string path) => new($"http://127.0.0.1:{Port}{path}");

    /// <summary>Requests received for <paramref name="path"/>.</summary>
    public int Hits(string path) => _hits.TryGetValue(path, out var n) ? n : 0;

    /// <summary>Serves <paramref name="path"/> with a handler that gets the connection, the 1-based request number for the path, and the stop token.</summary>
    public void Serve(string path, Func<Stream, int, CancellationToken, Task> handler) => _routes[path] = handler;

    public void ServeFile(string path, byte[] body, int chunk = 1 << 16, TimeSpan? chunkDelay = null) =>
        Serve(path, (s, _, ct) => WriteAsync(s, 200, "OK", body.Length, body, chunk, chunkDelay, ct));

    public void ServeStatus(string path, int code, string reason) =>
        Serve(path, (s, _, ct) => WriteAsync(s, code, reason, 0, ReadOnlyMemory<byte>.Empty, 1, null, ct));

    /// <summary>Announces <paramref name="body"/>'s full length, sends only <paramref name="sent"/> bytes, and closes the connection.</summary>
    public void ServeTruncated(string path, byte[] body, int sent) =>
        Serve(path, (s, _, ct) => WriteAsync(s, 200, "OK", body.Length, body.AsMemory(0, sent), 1 << 16, null, ct));

    /// <summary>Accepts and reads the request, then never answers (until disposed).</summary>
    public void ServeHang(string path) => Serve(path, (_, _, ct) => Task.Delay(Timeout.Infinite, ct));

    public static async Task WriteAsync(Stream s, int code, string reason, long contentLength, ReadOnlyMemory<byte> body, int chunk, TimeSpan? chunkDelay, CancellationToken ct)
    {
        var head = $"HTTP/1.1 {code} {reason}\r\nContent-Type: application/octet-stream\r\nContent-Length: {contentLength}\r\nConnection: close\r\n\r\n";
        await s.WriteAsync(Encoding.ASCII.GetBytes(head), ct);
        for (var offset = 0; offset < body.Length; offset += chunk)
        {
            await s.WriteAsync(body.Slice(offset, Math.Min(chunk, body.Length - offset)), ct);
            await s.FlushAsync(ct);
            if (chunkDelay is { } delay)
            {
                await Task.Delay(delay, ct);
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        foreach (var client in _clients)
        {
            client.Dispose();
        }

        Task.WaitAll([_acceptLoop, .. _connections.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default))], TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _clients.Add(client);
            _connections.Add(Task.Run(() => HandleAsync(client)));
        }
    }

    private async Task HandleAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var path = await ReadRequestPathAsync(stream, _stop.Token);
                if (path is null)
                {
                    return;
                }

                var n = _hits.AddOrUpdate(path, 1, (_, v) => v + 1);
                if (_routes.TryGetValue(path, out var handler))
                {
                    await handler(stream, n, _stop.Token);
                }
                else
                {
                    await WriteAsync(stream, 404, "Not Found", 0, ReadOnlyMemory<byte>.Empty, 1, null, _stop.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
                // the client went away, or the server is stopping
            }
        }
    }

    /// <summary>Reads the request head (at most 16 KiB) and returns the path of its request line.</summary>
    private static async Task<string?> ReadRequestPathAsync(Stream stream, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(length), ct);
            if (read == 0)
            {
                return null;
            }

            length += read;
            var text = Encoding.ASCII.GetString(buffer, 0, length);
            if (text.Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var parts = text[..text.IndexOf("\r\n", StringComparison.Ordinal)].Split(' ');
                return parts.Length >= 2 ? parts[1] : null;
            }
        }

        return null;
    }
}
