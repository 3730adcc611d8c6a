using Spectre.Console;

namespace PokeClassifier.Cli;

/// <summary>
/// Spectre.Console progress bars with percentage and remaining time for the library's <see cref="IProgress{T}"/> reports: one bar
/// per stage, created when the stage first reports. Where the output is not interactive (a log, a pipe), each stage also writes one
/// line when it starts: the bars are then drawn only at refresh ticks, and a stage shorter than a tick would leave no trace.
/// </summary>
internal sealed class ProgressView
{
    private readonly ProgressContext _context;
    private readonly IAnsiConsole? _log;
    private readonly Dictionary<string, ProgressTask> _tasks = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    private ProgressView(ProgressContext context, IAnsiConsole? log)
    {
        _context = context;
        _log = log;
    }

    public static Task<T> RunAsync<T>(IAnsiConsole console, Func<ProgressView, Task<T>> work) =>
        console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(ctx => work(new ProgressView(ctx, console.Profile.Capabilities.Interactive ? null : console)));

    /// <summary>Sets the bar of <paramref name="stage"/> to <paramref name="completed"/> of <paramref name="total"/>; earlier bars are completed.</summary>
    public void Report(string stage, double completed, double total)
    {
        lock (_gate)
        {
            if (!_tasks.TryGetValue(stage, out var task))
            {
                foreach (var other in _tasks.Values.Where(t => !t.IsFinished))
                {
                    other.IsIndeterminate = false;
                    other.Value = other.MaxValue;
                }

                task = _context.AddTask(Markup.Escape(stage), autoStart: true, maxValue: Math.Max(1, total));
                _tasks[stage] = task;
                _log?.WriteLine($"{stage}...");
            }

            if (total <= 0)
            {
                // Unknown size (files checked so far): an indeterminate bar with the count in its description.
                task.IsIndeterminate = true;
                task.Description = Markup.Escape($"{stage} ({completed:0})");
                return;
            }

            task.IsIndeterminate = false;
            task.MaxValue = total;
            task.Value = Math.Min(completed, total);
        }
    }

    /// <summary>Marks every bar complete.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            foreach (var t in _tasks.Values)
            {
                t.IsIndeterminate = false;
                t.Value = t.MaxValue;
            }
        }
    }

    public IProgress<T> For<T>(Action<ProgressView, T> report) => new Sink<T>(this, report);

    private sealed class Sink<T>(ProgressView view, Action<ProgressView, T> report) : IProgress<T>
    {
        public void Report(T value) => report(view, value);
    }
}
