using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using PokeClassifier;

namespace PokemonService.Tests;

public sealed class ServiceTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    [Fact]
    public async Task Given_the_service_When_health_is_asked_Then_it_answers_ok_with_the_loaded_model()
    {
        using var response = await service.Client.GetAsync("health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var health = await response.Content.ReadFromJsonAsync<HealthResponse>(Json);
        Assert.NotNull(health);
        Assert.Equal("ok", health.Status);
        Assert.Equal(3, health.Classes);
        Assert.Equal("ResNet18", health.Backbone);
    }

    [Fact]
    public async Task Given_raw_image_bytes_When_posted_Then_the_top_k_is_what_the_library_predicts()
    {
        var png = ServiceFixture.Shape("circle", seed: 901);
        var answer = await PredictAsync(new ByteArrayContent(png) { Headers = { ContentType = new MediaTypeHeaderValue("image/png") } }, "predict?top=2");
        var expected = service.Reference.Predict(png, topK: 2);
        Assert.Equal(expected.Label, answer.Label);
        Assert.Equal(expected.Top.Select(t => (t.Label, t.Probability)), answer.Top.Select(t => (t.Label, t.Probability)));
        Assert.Equal("circle", answer.Label);
    }

    [Fact]
    public async Task Given_a_multipart_form_file_When_posted_Then_the_answer_equals_the_raw_bytes_answer()
    {
        var png = ServiceFixture.Shape("triangle", seed: 902);
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(png);
        file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(file, "image", "triangle.png");
        var fromForm = await PredictAsync(form, "predict");
        var raw = await PredictAsync(new ByteArrayContent(png), "predict");
        Assert.Equal(3, fromForm.Top.Count);
        Assert.Equal(raw.Top.Select(t => (t.Label, t.Probability)), fromForm.Top.Select(t => (t.Label, t.Probability)));
        Assert.Equal(1.0, fromForm.Top.Sum(t => t.Probability), 3);
    }

    [Theory]
    [InlineData("text", "NotAnImage", "Not a usable image")]
    [InlineData("truncated", "Truncated", "Not a usable image")]
    [InlineData("empty", "empty", "no image")]
    [InlineData("form-without-file", "no-file", "no file")]
    public async Task Given_a_body_that_is_not_a_usable_image_When_posted_Then_the_answer_is_400_with_a_reason(string kind, string code, string message)
    {
        var png = ServiceFixture.Shape("square", seed: 903);
        HttpContent content = kind switch
        {
            "text" => new StringContent("{\"hello\": \"this is JSON, not a picture\"}", System.Text.Encoding.UTF8, "application/json"),
            "truncated" => new ByteArrayContent(png[..(png.Length / 2)]),
            "empty" => new ByteArrayContent([]),
            _ => new MultipartFormDataContent { { new StringContent("value"), "field" } },
        };
        using var response = await service.Client.PostAsync("predict", content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await response.Content.ReadFromJsonAsync<ErrorResponse>(Json);
        Assert.NotNull(error);
        Assert.Equal(code, error.Error);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
        content.Dispose();
    }

    [Fact]
    public async Task Given_a_body_over_the_size_limit_When_posted_raw_or_as_a_form_Then_the_answer_is_413()
    {
        var big = new byte[ServiceFixture.MaxRequestBytes + 1000];
        new Random(1).NextBytes(big);
        using (var response = await service.Client.PostAsync("predict", new ByteArrayContent(big)))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            Assert.Equal("too-large", (await response.Content.ReadFromJsonAsync<ErrorResponse>(Json))!.Error);
        }

        // Chunked (no Content-Length): the limit is enforced while reading.
        using var chunked = new StreamContent(new MemoryStream(big));
        using var request = new HttpRequestMessage(HttpMethod.Post, "predict") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        try
        {
            using var streamed = await service.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamed.StatusCode);
        }
        catch (HttpRequestException)
        {
            // Kestrel may answer 413 and close the connection while the client is still sending: the upload is refused either way.
        }
    }

    [Theory]
    [InlineData("0")]
    [InlineData("21")]
    [InlineData("many")]
    public async Task Given_a_bad_top_When_posted_Then_the_answer_is_400(string top)
    {
        using var response = await service.Client.PostAsync($"predict?top={top}", new ByteArrayContent(ServiceFixture.Shape("circle", 1)));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("bad-top", (await response.Content.ReadFromJsonAsync<ErrorResponse>(Json))!.Error);
    }

    [Fact]
    public async Task Given_32_concurrent_requests_When_posted_at_once_Then_each_gets_exactly_its_own_sequential_answer()
    {
        var shapes = new[] { "circle", "square", "triangle" };
        var images = Enumerable.Range(0, 32).Select(i => i % 8 == 7 ? System.Text.Encoding.UTF8.GetBytes($"not an image {i}") : ServiceFixture.Shape(shapes[i % 3], seed: 1000 + i)).ToArray();
        var expected = images.Select(b =>
        {
            try
            {
                return service.Reference.Predict(b, topK: 3).Top.Select(t => (t.Label, t.Probability)).ToArray();
            }
            catch (InvalidImageException)
            {
                return null;
            }
        }).ToArray();
        using var start = new SemaphoreSlim(0);
        var requests = images.Select(async (bytes, i) =>
        {
            await start.WaitAsync();
            using var response = await service.Client.PostAsync("predict?top=3", new ByteArrayContent(bytes));
            return (i, response.StatusCode, await response.Content.ReadAsStringAsync());
        }).ToArray();
        start.Release(32);
        foreach (var (i, status, body) in await Task.WhenAll(requests))
        {
            if (expected[i] is null)
            {
                Assert.Equal(HttpStatusCode.BadRequest, status);
                continue;
            }

            Assert.True(status == HttpStatusCode.OK, $"request {i}: {status} {body}");
            var answer = JsonSerializer.Deserialize<PredictResponse>(body, Json)!;
            Assert.Equal(expected[i], answer.Top.Select(t => (t.Label, t.Probability)).ToArray());
        }
    }

    [Fact]
    public void Given_no_model_or_a_missing_model_When_the_service_is_built_Then_it_fails_at_start_with_a_clear_error()
    {
        var none = Assert.Throws<InvalidOperationException>(() => ServiceApp.Build(["--urls", "http://127.0.0.1:0"]));
        Assert.Contains("Model:Path", none.Message, StringComparison.Ordinal);
        var missing = Assert.Throws<ModelLoadException>(() => ServiceApp.Build(["--Model:Path", Path.Combine(service.Root, "nope.zip")]));
        Assert.Contains("does not exist", missing.Message, StringComparison.Ordinal);
    }

    private async Task<PredictResponse> PredictAsync(HttpContent content, string path)
    {
        using var response = await service.Client.PostAsync(path, content);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {body}");
        content.Dispose();
        return JsonSerializer.Deserialize<PredictResponse>(body, Json)!;
    }
}
