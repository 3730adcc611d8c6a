using PokeClassifier.Tests.Browser;

namespace PokemonService.Tests;

/// <summary>The page at / in a real headless Chromium, against the real service.</summary>
public sealed class PageTests(ServiceFixture service) : IClassFixture<ServiceFixture>
{
    [Fact]
    public async Task Given_the_page_When_an_image_is_chosen_or_dropped_Then_the_top_k_with_probabilities_is_shown()
    {
        await using var browser = await Chromium.LaunchAsync();
        var page = await browser.NewPageAsync();
        await page.NavigateAsync(new Uri(service.BaseAddress, "/").ToString());
        await page.WaitForAsync("document.getElementById('model').textContent.includes('classes')");
        Assert.Contains("3 classes", (await page.EvaluateAsync("document.getElementById('model').textContent")).GetString(), StringComparison.Ordinal);

        // Choosing a file, as a user does with the file dialog.
        var png = ServiceFixture.Shape("square", seed: 2001);
        var file = Path.Combine(service.Root, "chosen-square.png");
        await File.WriteAllBytesAsync(file, png);
        await page.SetInputFilesAsync("#file", file);
        await page.WaitForAsync("document.body.dataset.state === 'done'");
        var rows = await page.EvaluateAsync("[...document.querySelectorAll('#results tbody tr')].map(r => [r.cells[0].textContent, r.cells[1].textContent, r.querySelector('.bar').getBoundingClientRect().width])");
        var expected = service.Reference.Predict(png, topK: 5);
        Assert.Equal(expected.Top.Count, rows.GetArrayLength());
        for (var i = 0; i < expected.Top.Count; i++)
        {
            Assert.Equal(expected.Top[i].Label, rows[i][0].GetString());
            Assert.Equal((expected.Top[i].Probability * 100).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + " %", rows[i][1].GetString());
            Assert.True(rows[i][2].GetDouble() > 0, "the probability bar has no width");
        }

        Assert.True((await page.EvaluateAsync("document.getElementById('preview').naturalWidth")).GetInt32() == 96, "the preview image did not load");

        // Dropping a file on the drop zone: a real drop event with a DataTransfer holding the file.
        var circle = Convert.ToBase64String(ServiceFixture.Shape("circle", seed: 2002));
        await page.EvaluateAsync($$"""
            (async () => {
              const bytes = Uint8Array.from(atob('{{circle}}'), c => c.charCodeAt(0));
              const dt = new DataTransfer();
              dt.items.add(new File([bytes], 'dropped.png', { type: 'image/png' }));
              document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
            })()
            """);
        await page.WaitForAsync("document.body.dataset.state === 'done' && document.getElementById('status').textContent.startsWith('dropped.png')");
        Assert.Equal(service.Reference.Predict(Convert.FromBase64String(circle)).Label, (await page.EvaluateAsync("document.querySelector('#results tbody tr td').textContent")).GetString());

        // A file that is not an image: the reason is shown, nothing breaks.
        var text = Path.Combine(service.Root, "notes.png");
        await File.WriteAllTextAsync(text, "just some text");
        await page.SetInputFilesAsync("#file", text);
        await page.WaitForAsync("document.body.dataset.state === 'error'");
        Assert.Contains("Not a usable image", (await page.EvaluateAsync("document.getElementById('error').textContent")).GetString(), StringComparison.Ordinal);
        Assert.True((await page.EvaluateAsync("document.getElementById('results').hidden")).GetBoolean());

        // The 400 of the bad file is logged by the browser as a failed resource load; nothing else may be.
        var unexpected = page.Errors.Where(e => !e.Contains("status of 400", StringComparison.Ordinal)).ToArray();
        Assert.True(unexpected.Length == 0, "page errors: " + string.Join(" | ", unexpected));
    }
}
