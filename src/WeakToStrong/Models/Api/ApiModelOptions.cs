namespace WeakToStrong.Models.Api;

/// <summary>
/// A large model behind an OpenAI-compatible completions endpoint (a config's <c>api:</c> mapping; experiments/README.md).
/// The key is never held here, only the name of the environment variable that holds it.
/// </summary>
public sealed record ApiModelOptions(string BaseUrl, string Model)
{
    public const int DefaultMaxConcurrency = 16;

    /// <summary>The environment variable holding the API key (sent as a bearer token); null: no key (a local server).</summary>
    public string? ApiKeyEnv { get; init; }
    /// <summary>Requests in flight at once, over all states of all prompts of a batch.</summary>
    public int MaxConcurrency { get; init; } = DefaultMaxConcurrency;
    /// <summary>One attempt's limit, connection to last byte.</summary>
    public double TimeoutSeconds { get; init; } = 300;
    /// <summary>Retries after the first attempt (429, 5xx, timeouts, dropped connections).</summary>
    public int MaxRetries { get; init; } = 8;
    /// <summary>All attempts of one request together, waits included.</summary>
    public double RetryLimitSeconds { get; init; } = 1800;
    /// <summary>Whether to send top_k (vLLM, TGI and `wts serve` accept it; OpenAI's API refuses it): when false the server samples without top-k.</summary>
    public bool SendTopK { get; init; }
    /// <summary>The first retry's wait before jitter (doubling with each retry); a server's Retry-After takes precedence.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The base URL without a trailing slash, e.g. http://127.0.0.1:8000/v1.</summary>
    public string Endpoint => BaseUrl.TrimEnd('/');

    /// <summary>What identifies the model in a run's manifest instead of a weight hash (no key).</summary>
    public string Fingerprint => $"api:{Endpoint}#{Model}";

    public void Validate(string source)
    {
        if (!Uri.TryCreate(BaseUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new InvalidInputException($"{source}.base_url: expected an http:// or https:// URL such as http://127.0.0.1:8000/v1, got \"{BaseUrl}\"");
        if (string.IsNullOrWhiteSpace(Model)) throw new InvalidInputException($"{source}.model: expected the served model's name");
        if (MaxConcurrency < 1) throw new InvalidInputException($"{source}.max_concurrency: expected ≥ 1, got {MaxConcurrency}");
        if (!(TimeoutSeconds > 0)) throw new InvalidInputException($"{source}.timeout_s: expected a positive number of seconds, got {TimeoutSeconds}");
        if (MaxRetries < 0) throw new InvalidInputException($"{source}.max_retries: expected ≥ 0, got {MaxRetries}");
    }
}
