using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace WeakToStrong.Search;

/// <summary>One line of a `wts score` input: a prompt, a response given as text, and whether it finished.</summary>
public sealed record ResponseToScore(int Line, JsonObject Source, string Prompt, string Response, bool Finished);

/// <summary>
/// The implicit value of responses that were not searched here (any model's outputs, e.g. an AlpacaEval
/// model_outputs file turned into lines), scored exactly as a search scores them (<see cref="LogProbScorer"/>),
/// each response alone so that a score does not depend on its neighbours.
/// </summary>
public static class ResponseScoring
{
    /// <summary>
    /// Reads JSONL lines {"prompt": string, "response": string, "finished": bool}; every error names file:line.
    /// Other keys are kept and written back.
    /// </summary>
    public static IReadOnlyList<ResponseToScore> Read(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: file not found (expected JSONL lines {{\"prompt\", \"response\", \"finished\"}})");
        string text = Data.StrictUtf8.ReadAllText(path);
        var lines = text.Split('\n');
        var rows = new List<ResponseToScore>();
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (line.Length == 0) continue;
            string where = $"{path}:{i + 1}";
            JsonObject obj;
            try
            {
                obj = JsonNode.Parse(line) as JsonObject ?? throw new InvalidInputException($"{where}: expected a JSON object");
            }
            catch (JsonException e)
            {
                throw new InvalidInputException($"{where}: not valid JSON ({e.Message})");
            }
            string Text(string key) => obj[key] is JsonValue v && v.TryGetValue(out string? s) ? s
                : throw new InvalidInputException($"{where}: \"{key}\" must be a string{(obj.ContainsKey(key) ? "" : " and is missing")}");
            bool finished = obj["finished"] is JsonValue f && f.TryGetValue(out bool b) ? b
                : throw new InvalidInputException($"{where}: \"finished\" must be true or false{(obj.ContainsKey("finished") ? "" : " and is missing")} (whether the response ended: EOS, a stop string or the token limit)");
            rows.Add(new ResponseToScore(i + 1, obj, Text("prompt"), Text("response"), finished));
        }
        if (rows.Count == 0) throw new InvalidInputException($"{path}: no lines to score");
        return rows;
    }

    /// <summary>Each row's implicit value and its tuned and untuned log-likelihoods.</summary>
    public static IReadOnlyList<(double ImplicitValue, double TunedLogprob, double UntunedLogprob)> Score(
        PromptedModel tuned, PromptedModel untuned, IReadOnlyList<ResponseToScore> rows, Action<int>? onRow = null)
    {
        // Text is always re-tokenized here (there are no sampled ids), so the "large" model plays no part.
        var scorer = LogProbScorer.ImplicitValue(tuned, tuned, untuned);
        var results = new List<(double, double, double)>(rows.Count);
        foreach (var row in rows)
        {
            // The response is text, its length in tokens unknown until tokenized: the caches grow once, to what it needs.
            using var session = scorer.Begin([row.Prompt], rowsPerPrompt: 1, maxNewTokens: 0, updates: 1);
            var terms = session.ScoreTerms([Response.FromText(row.Response, row.Finished ? FinishReason.Eos : null)]);
            results.Add((terms[0][0] - terms[1][0], terms[0][0], terms[1][0]));
            onRow?.Invoke(results.Count);
        }
        return results;
    }

    /// <summary>The input lines with implicit_value, tuned_logprob and untuned_logprob added, as JSONL.</summary>
    public static string ToJsonl(IReadOnlyList<ResponseToScore> rows, IReadOnlyList<(double ImplicitValue, double TunedLogprob, double UntunedLogprob)> scores)
    {
        var text = new StringBuilder();
        var options = new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        for (int i = 0; i < rows.Count; i++)
        {
            var obj = (JsonObject)rows[i].Source.DeepClone();
            obj["implicit_value"] = scores[i].ImplicitValue;
            obj["tuned_logprob"] = scores[i].TunedLogprob;
            obj["untuned_logprob"] = scores[i].UntunedLogprob;
            text.Append(obj.ToJsonString(options)).Append('\n');
        }
        return text.ToString();
    }
}
