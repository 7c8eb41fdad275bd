namespace WeakToStrong;

/// <summary>
/// Bad user input: a config, checkpoint, tokenizer file, dataset or flag that is not what we expect.
/// The message names the file or field and what was expected; the CLI prints it and exits non-zero.
/// </summary>
public sealed class InvalidInputException : Exception
{
    public InvalidInputException(string message) : base(message) { }
    public InvalidInputException(string message, Exception inner) : base(message, inner) { }
}
