using PokeClassifier.Cli;
using Spectre.Console;

using var cts = new CancellationTokenSource();
var cancelled = false;
Console.CancelKeyPress += (_, e) =>
{
    // The first Ctrl+C asks the work to stop cleanly; a second one ends the process at once.
    if (!cancelled)
    {
        cancelled = true;
        e.Cancel = true;
        cts.Cancel();
    }
};

var errors = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
return await CliApp.RunAsync(args, AnsiConsole.Console, errors, cts.Token);
