namespace WeakToStrong;

/// <summary>
/// The machine, not the input, stands in the way: an output location that cannot be written (a read-only folder,
/// permission denied), a full disk. The message names the path and what failed; the CLI prints it and exits with 3.
/// </summary>
public sealed class EnvironmentFailureException : Exception
{
    public EnvironmentFailureException(string message) : base(message) { }
    public EnvironmentFailureException(string message, Exception inner) : base(message, inner) { }
}
