using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Threading.Channels;
using PokeClassifier.Data;

namespace PokeClassifier.Features;

/// <summary>One image of a streamed featurization, in input order: the mapped features, or why the file was skipped.</summary>
/// <typeparam name="T">What the caller's map made of the features.</typeparam>
/// <param name="Index">Position of the file in the input, from 0.</param>
/// <param name="Path">The file as given.</param>
/// <param name="Value">The mapped features; default when <paramref name="Skipped"/> is set.</param>
/// <param name="Skipped">Why the file gave no features, or <see langword="null"/>.</param>
/// <param name="FromCache">Whether the features came from the cache.</param>
internal readonly record struct StreamedImage<T>(long Index, string Path, T? Value, SkippedFile? Skipped, bool FromCache);

public sealed partial class ImageFeaturizer
{
    /// <summary>How many images may be in flight (taken from the input, not yet handed to the caller) per unit of parallelism.</summary>
    internal const int InFlightPerWorker = 4;

    /// <summary>The most images a streamed run holds at once: taken from the input but not yet handed to the caller.</summary>
    internal int InFlightLimit => InFlightPerWorker * _options.Parallelism;

    /// <summary>
    /// Featurizes files as a stream, in input order, with the pipeline of <see cref="FeaturizeAsync"/> (decode workers ∥ inference
    /// workers, the cache read before decoding and written after inference) and <paramref name="map"/> applied on the workers.
    /// Memory is bounded whatever the number of files: the input is read lazily and at most <see cref="InFlightLimit"/> images are
    /// between the input and the caller; a caller that stops reading stops the input. Files that cannot be read or decoded come
    /// out with <see cref="StreamedImage{T}.Skipped"/> set; they never end the run.
    /// </summary>
    /// <exception cref="OperationCanceledException">Cancelled; cache entries written so far stay valid.</exception>
    internal async IAsyncEnumerable<StreamedImage<T>> FeaturizeStreamAsync<T>(IEnumerable<string> paths, Func<float[], T> map, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(map);
        var parallelism = _options.Parallelism;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = linked.Token;
        using var permits = new SemaphoreSlim(InFlightLimit, InFlightLimit);
        ExceptionDispatchInfo? failure = null;

        void Fail(Exception e)
        {
            Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null);
            linked.Cancel();
        }

        // The order channel is bounded by the permits: a slot is taken before a path is read from the input.
        var order = Channel.CreateUnbounded<TaskCompletionSource<StreamedImage<T>>>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var work = Channel.CreateBounded<(long Index, string Path, TaskCompletionSource<StreamedImage<T>> Done)>(new BoundedChannelOptions(parallelism * 2) { SingleWriter = true });
        var tensors = Channel.CreateBounded<(long Index, string Path, string Hash, float[][] Tensor, TaskCompletionSource<StreamedImage<T>> Done)>(new BoundedChannelOptions(parallelism * 2));

        var producer = Task.Run(async () =>
        {
            try
            {
                using var e = paths.GetEnumerator();
                for (long index = 0; ; index++)
                {
                    await permits.WaitAsync(token).ConfigureAwait(false);
                    if (!e.MoveNext())
                    {
                        break;
                    }

                    var path = e.Current;
                    var done = new TaskCompletionSource<StreamedImage<T>>(TaskCreationOptions.RunContinuationsAsynchronously);
                    order.Writer.TryWrite(done);
                    await work.Writer.WriteAsync((index, path, done), token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Fail(e);
            }
            finally
            {
                work.Writer.TryComplete();
                order.Writer.TryComplete();
            }
        }, CancellationToken.None);

        var decoders = Enumerable.Range(0, parallelism).Select(_ => Task.Run(async () =>
        {
            try
            {
                await foreach (var (index, path, done) in work.Reader.ReadAllAsync(token).ConfigureAwait(false))
                {
                    var skipped = default(SkippedFile);
                    try
                    {
                        var bytes = await ReadImageFileAsync(path, token).ConfigureAwait(false);
                        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
                        if (Cache is not null && Cache.TryRead(Identity, hash, Backbone.FeatureLength, out var cached))
                        {
                            done.TrySetResult(new StreamedImage<T>(index, path, map(cached), null, FromCache: true));
                            continue;
                        }

                        var tensor = Prepare(bytes, path);
                        await tensors.Writer.WriteAsync((index, path, hash, tensor, done), token).ConfigureAwait(false);
                    }
                    catch (InvalidImageException e)
                    {
                        skipped = new SkippedFile { Path = path, Reason = e.Reason, Detail = e.Message.StartsWith(path + ": ", StringComparison.Ordinal) ? e.Message[(path.Length + 2)..] : e.Message };
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        skipped = new SkippedFile { Path = path, Reason = SkipReason.Unreadable, Detail = e.Message };
                    }

                    if (skipped is not null)
                    {
                        done.TrySetResult(new StreamedImage<T>(index, path, default, skipped, FromCache: false));
                    }
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Fail(e);
            }
        }, CancellationToken.None)).ToArray();

        var inference = Enumerable.Range(0, parallelism).Select(_ => Task.Run(async () =>
        {
            try
            {
                await foreach (var (index, path, hash, tensor, done) in tensors.Reader.ReadAllAsync(token).ConfigureAwait(false))
                {
                    var output = Run(tensor, token);
                    WriteToCache(hash, output);
                    done.TrySetResult(new StreamedImage<T>(index, path, map(output), null, FromCache: false));
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Fail(e);
            }
        }, CancellationToken.None)).ToArray();

        // Decoders done: no more tensors.
        var tensorsClosed = Task.WhenAll(decoders).ContinueWith(_ => tensors.Writer.TryComplete(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        try
        {
            while (await WaitToReadAsync(order.Reader, token).ConfigureAwait(false))
            {
                while (order.Reader.TryRead(out var next))
                {
                    StreamedImage<T> result;
                    try
                    {
                        result = await next.Task.WaitAsync(token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (failure is not null && !cancellationToken.IsCancellationRequested)
                    {
                        failure.Throw();
                        throw;
                    }

                    permits.Release();
                    yield return result;
                }
            }

            cancellationToken.ThrowIfCancellationRequested();
            failure?.Throw();
        }
        finally
        {
            await linked.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(decoders.Concat(inference).Append(producer).Append(tensorsClosed)).ConfigureAwait(false);
        }

        async Task<bool> WaitToReadAsync(ChannelReader<TaskCompletionSource<StreamedImage<T>>> reader, CancellationToken ct)
        {
            try
            {
                return await reader.WaitToReadAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (failure is not null && !cancellationToken.IsCancellationRequested)
            {
                failure.Throw();
                throw;
            }
        }
    }

    /// <summary>
    /// Reads an image file whole, as <see cref="FeaturizeAsync"/> does: anything but a regular file (a FIFO, a device, a socket, a
    /// folder) is refused before it is opened, so it never blocks or floods the run; a missing file is unreadable.
    /// </summary>
    internal static Task<byte[]> ReadImageFileAsync(string path, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(FileProbe.ReadRegularFile(path));
    }
}
