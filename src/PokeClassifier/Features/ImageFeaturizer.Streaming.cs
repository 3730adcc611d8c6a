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
        using var run = new StreamRun<T>(this, map, cancellationToken);
        var producer = Task.Run(() => run.GuardAsync(() => run.ProduceAsync(paths)), CancellationToken.None);
        var decoders = Enumerable.Range(0, _options.Parallelism).Select(_ => Task.Run(() => run.GuardAsync(run.DecodeAsync), CancellationToken.None)).ToArray();
        var inference = Enumerable.Range(0, _options.Parallelism).Select(_ => Task.Run(() => run.GuardAsync(run.InferAsync), CancellationToken.None)).ToArray();

        // Decoders done: no more tensors.
        var tensorsClosed = Task.WhenAll(decoders).ContinueWith(_ => run.Tensors.Writer.TryComplete(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        try
        {
            while (await run.WaitToReadAsync().ConfigureAwait(false))
            {
                while (run.Order.Reader.TryRead(out var next))
                {
                    var result = await run.ResultAsync(next).ConfigureAwait(false);
                    run.Permits.Release();
                    yield return result;
                }
            }

            cancellationToken.ThrowIfCancellationRequested();
            run.ThrowIfFailed();
        }
        finally
        {
            await run.Linked.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(decoders.Concat(inference).Append(producer).Append(tensorsClosed)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// One streamed run: the producer reads the input lazily, taking a permit per path (so at most <see cref="InFlightLimit"/> images are
    /// in flight) and queueing its result slot in input order; decoders read, hash, look up the cache and decode; inference workers run
    /// the backbone and write the cache. The first failure of any of them cancels the rest and is rethrown to the reader.
    /// </summary>
    private sealed class StreamRun<T> : IDisposable
    {
        private readonly ImageFeaturizer _featurizer;
        private readonly Func<float[], T> _map;
        private readonly CancellationToken _caller;
        private ExceptionDispatchInfo? _failure;

        public StreamRun(ImageFeaturizer featurizer, Func<float[], T> map, CancellationToken caller)
        {
            _featurizer = featurizer;
            _map = map;
            _caller = caller;
            Linked = CancellationTokenSource.CreateLinkedTokenSource(caller);
            Token = Linked.Token;
            var parallelism = featurizer._options.Parallelism;
            Permits = new SemaphoreSlim(featurizer.InFlightLimit, featurizer.InFlightLimit);
            Work = Channel.CreateBounded<(long, string, TaskCompletionSource<StreamedImage<T>>)>(new BoundedChannelOptions(parallelism * 2) { SingleWriter = true });
            Tensors = Channel.CreateBounded<(long, string, string, float[][], TaskCompletionSource<StreamedImage<T>>)>(new BoundedChannelOptions(parallelism * 2));
        }

        public CancellationTokenSource Linked { get; }

        public CancellationToken Token { get; }

        public SemaphoreSlim Permits { get; }

        /// <summary>Result slots in input order; bounded by the permits (a slot is taken before a path is read from the input).</summary>
        public Channel<TaskCompletionSource<StreamedImage<T>>> Order { get; } =
            Channel.CreateUnbounded<TaskCompletionSource<StreamedImage<T>>>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

        public Channel<(long Index, string Path, TaskCompletionSource<StreamedImage<T>> Done)> Work { get; }

        public Channel<(long Index, string Path, string Hash, float[][] Tensor, TaskCompletionSource<StreamedImage<T>> Done)> Tensors { get; }

        /// <summary>Runs a worker; cancellation ends it quietly, any other exception fails the run.</summary>
        public async Task GuardAsync(Func<Task> worker)
        {
            try
            {
                await worker().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (Token.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _failure, ExceptionDispatchInfo.Capture(e), null);
                Linked.Cancel();
            }
        }

        public async Task ProduceAsync(IEnumerable<string> paths)
        {
            try
            {
                using var e = paths.GetEnumerator();
                for (long index = 0; ; index++)
                {
                    await Permits.WaitAsync(Token).ConfigureAwait(false);
                    if (!e.MoveNext())
                    {
                        break;
                    }

                    var done = new TaskCompletionSource<StreamedImage<T>>(TaskCreationOptions.RunContinuationsAsynchronously);
                    Order.Writer.TryWrite(done);
                    await Work.Writer.WriteAsync((index, e.Current, done), Token).ConfigureAwait(false);
                }
            }
            finally
            {
                Work.Writer.TryComplete();
                Order.Writer.TryComplete();
            }
        }

        public async Task DecodeAsync()
        {
            var f = _featurizer;
            await foreach (var (index, path, done) in Work.Reader.ReadAllAsync(Token).ConfigureAwait(false))
            {
                SkippedFile? skipped = null;
                try
                {
                    var bytes = await ReadImageFileAsync(path, Token).ConfigureAwait(false);
                    var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
                    if (f.Cache is not null && f.Cache.TryRead(f.Identity, hash, f.Backbone.FeatureLength, out var cached))
                    {
                        done.TrySetResult(new StreamedImage<T>(index, path, _map(cached), null, FromCache: true));
                        continue;
                    }

                    var tensor = f.Prepare(bytes, path);
                    await Tensors.Writer.WriteAsync((index, path, hash, tensor, done), Token).ConfigureAwait(false);
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

        public async Task InferAsync()
        {
            await foreach (var (index, path, hash, tensor, done) in Tensors.Reader.ReadAllAsync(Token).ConfigureAwait(false))
            {
                var output = _featurizer.Run(tensor, Token);
                _featurizer.WriteToCache(hash, output);
                done.TrySetResult(new StreamedImage<T>(index, path, _map(output), null, FromCache: false));
            }
        }

        /// <summary>Waits for the next result slot; a failure of the run is rethrown instead of the cancellation it caused.</summary>
        public Task<bool> WaitToReadAsync() => FailureInsteadOfCancellation(Order.Reader.WaitToReadAsync(Token).AsTask());

        /// <summary>The result of one slot; a failure of the run is rethrown instead of the cancellation it caused.</summary>
        public Task<StreamedImage<T>> ResultAsync(TaskCompletionSource<StreamedImage<T>> slot) => FailureInsteadOfCancellation(slot.Task.WaitAsync(Token));

        private async Task<TResult> FailureInsteadOfCancellation<TResult>(Task<TResult> wait)
        {
            try
            {
                return await wait.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_failure is not null && !_caller.IsCancellationRequested)
            {
                _failure.Throw();
                throw;
            }
        }

        public void ThrowIfFailed() => _failure?.Throw();

        public void Dispose()
        {
            Permits.Dispose();
            Linked.Dispose();
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
