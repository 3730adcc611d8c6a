using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using PokeClassifier;
using PokeClassifier.Features;
using PokeClassifier.Training;

namespace PokemonService;

/// <summary>
/// The service: a minimal API over one <see cref="TrainedClassifier"/>, loaded once at start and shared by every request
/// (prediction is thread-safe). Configuration (appsettings.json, environment <c>Model__Path</c>, or <c>--Model:Path</c>):
/// <c>Model:Path</c> (required), <c>Model:Parallelism</c> (ONNX Runtime sessions; default the core count),
/// <c>Service:MaxRequestBytes</c> (default 8 MiB), <c>Service:DefaultTop</c> (default 5), <c>Service:MaxTop</c> (default 20).
/// </summary>
public static class ServiceApp
{
    /// <summary>The largest request body accepted when <c>Service:MaxRequestBytes</c> is not set.</summary>
    public const long DefaultMaxRequestBytes = 8L * 1024 * 1024;

    /// <summary>Builds the application (the model is loaded here, so a bad model fails at start, not at the first request).</summary>
    /// <exception cref="InvalidOperationException"><c>Model:Path</c> is not set.</exception>
    /// <exception cref="ModelLoadException">The model cannot be loaded.</exception>
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        var config = builder.Configuration;
        var modelPath = config["Model:Path"] ?? config["model"]
            ?? throw new InvalidOperationException("No model: set Model:Path (--Model:Path model.zip, or the environment variable Model__Path) to a file saved by 'pokeclassifier train'.");
        var maxBytes = config.GetValue("Service:MaxRequestBytes", DefaultMaxRequestBytes);
        var defaultTop = config.GetValue("Service:DefaultTop", 5);
        var maxTop = config.GetValue("Service:MaxTop", 20);
        if (maxBytes < 1024 || defaultTop < 1 || maxTop < defaultTop)
        {
            throw new InvalidOperationException($"Invalid service options: Service:MaxRequestBytes must be at least 1024 (was {maxBytes}), Service:DefaultTop at least 1 (was {defaultTop}), Service:MaxTop at least DefaultTop (was {maxTop}).");
        }

        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = maxBytes);
        builder.Services.Configure<FormOptions>(f => f.MultipartBodyLengthLimit = maxBytes);
        var featurizer = new FeaturizerOptions
        {
            // Uploaded bytes are not cached (every request is new content); sessions run side by side for concurrent requests.
            UseCache = false,
            Parallelism = config.GetValue("Model:Parallelism", Environment.ProcessorCount),
        };
        var classifier = TrainedClassifier.Load(modelPath, options: featurizer);
        builder.Services.AddSingleton(classifier);

        var app = builder.Build();
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("PokemonService");
        if (log.IsEnabled(LogLevel.Information))
        {
            log.LogInformation("Loaded {Model} from {Path}; requests up to {Bytes} bytes", classifier.ToString(), modelPath, maxBytes);
        }
        app.Lifetime.ApplicationStopped.Register(classifier.Dispose);

        app.MapGet("/", () => Results.Text(Page.Html, "text/html; charset=utf-8"));
        app.MapGet("/health", (TrainedClassifier c) => Results.Ok(new HealthResponse("ok", c.ToString(), c.Backbone.Name, c.HeadDescription, c.Classes.Count)));
        app.MapPost("/predict", async (HttpRequest request, TrainedClassifier c, CancellationToken ct) =>
        {
            var top = defaultTop;
            if (request.Query.TryGetValue("top", out var topText) && (!int.TryParse(topText, out top) || top < 1 || top > maxTop))
            {
                return Error(StatusCodes.Status400BadRequest, "bad-top", $"'top' must be a whole number from 1 to {maxTop} (was '{topText}').");
            }

            if (request.ContentLength > maxBytes)
            {
                return TooLarge(maxBytes);
            }

            byte[] bytes;
            try
            {
                bytes = await ReadImageAsync(request, ct);
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                return TooLarge(maxBytes);
            }
            catch (InvalidDataException e)
            {
                // Multipart limits (a part over MultipartBodyLengthLimit) and malformed multipart bodies.
                return e.Message.Contains("limit", StringComparison.OrdinalIgnoreCase) ? TooLarge(maxBytes) : Error(StatusCodes.Status400BadRequest, "bad-form", e.Message);
            }
            catch (BadRequestException e)
            {
                return Error(StatusCodes.Status400BadRequest, e.Code, e.Message);
            }

            if (bytes.Length == 0)
            {
                return Error(StatusCodes.Status400BadRequest, "empty", "The request has no image: send the image bytes as the body, or a multipart form with a file field.");
            }

            try
            {
                var watch = Stopwatch.StartNew();
                var prediction = c.Predict(bytes, top);
                return Results.Ok(new PredictResponse(prediction.Label, prediction.Probability, prediction.Top.Select(t => new LabelScore(t.Label, t.Probability)).ToArray(), watch.Elapsed.TotalMilliseconds));
            }
            catch (InvalidImageException e)
            {
                return Error(StatusCodes.Status400BadRequest, e.Reason.ToString(), $"Not a usable image: {e.Message.Replace("image: ", string.Empty, StringComparison.Ordinal)}");
            }
        }).DisableAntiforgery();
        return app;
    }

    private static async Task<byte[]> ReadImageAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.HasFormContentType)
        {
            var form = await request.ReadFormAsync(ct);
            var file = form.Files.GetFile("image") ?? (form.Files.Count > 0 ? form.Files[0] : null)
                ?? throw new BadRequestException("no-file", "The form has no file: send the image as a file field (named 'image').");
            using var ms = new MemoryStream((int)Math.Min(file.Length, int.MaxValue));
            await file.CopyToAsync(ms, ct);
            return ms.ToArray();
        }

        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body, ct);
        return body.ToArray();
    }

    private static IResult TooLarge(long maxBytes) =>
        Error(StatusCodes.Status413PayloadTooLarge, "too-large", $"The request is larger than the limit of {maxBytes} bytes (Service:MaxRequestBytes).");

    private static IResult Error(int status, string code, string message) => Results.Json(new ErrorResponse(code, message), statusCode: status);

    private sealed class BadRequestException(string code, string message) : Exception(message)
    {
        public string Code { get; } = code;
    }
}

/// <summary>The answer of <c>POST /predict</c>.</summary>
/// <param name="Label">The most likely class.</param>
/// <param name="Probability">Its probability, 0 to 1.</param>
/// <param name="Top">The top-k classes, most likely first.</param>
/// <param name="Milliseconds">Time spent decoding and classifying.</param>
public sealed record PredictResponse(string Label, float Probability, IReadOnlyList<LabelScore> Top, double Milliseconds);

/// <summary>A class with its probability.</summary>
public sealed record LabelScore(string Label, float Probability);

/// <summary>An error: a short code (<c>NotAnImage</c>, <c>Truncated</c>, <c>empty</c>, <c>too-large</c>, ...) and a sentence.</summary>
public sealed record ErrorResponse(string Error, string Message);

/// <summary>The answer of <c>GET /health</c>.</summary>
public sealed record HealthResponse(string Status, string Model, string Backbone, string Head, int Classes);

/// <summary>The page at <c>/</c>.</summary>
internal static class Page
{
    public static readonly string Html = Load();

    private static string Load()
    {
        using var stream = typeof(Page).Assembly.GetManifestResourceStream("PokemonService.index.html")
            ?? throw new InvalidOperationException("index.html is not embedded.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
