using System.Globalization;
using System.Runtime;
using System.Text;
using WeakToStrong.Evaluation;
using WeakToStrong.Models;
using WeakToStrong.Search;
using WeakToStrong.Tokenization;
using WeakToStrong.Training;
using static TorchSharp.torch;

// The work of GcStressTests, run in a child process so that the runtime settings under test (DOTNET_GCgen0size,
// DOTNET_TieredCompilation, DOTNET_gcConcurrent) apply: a full chunk-level beam search, an EFT run, reward scoring and
// a few pretraining, SFT, DPO and reward-model steps on tiny random models (a Llama with grouped-query attention and a
// GPT-2 pair sharing one byte-level BPE vocabulary). With --stress a background thread forces garbage collections and
// runs finalizers in a tight loop, so an object the native code still uses but .NET no longer references (TorchSharp
// 0.107's temporary Scalars) is freed during the call. Prints a digest of every result (token ids, scores, losses).
//   usage: WeakToStrong.GcStress DIR [--stress]
if (args.Length is < 1 or > 2 || (args.Length == 2 && args[1] != "--stress"))
{
    Console.Error.WriteLine("usage: WeakToStrong.GcStress DIR [--stress]");
    return 2;
}
string root = args[0];
bool stress = args.Length == 2;
Console.Error.WriteLine($"gc: concurrent={GCSettings.LatencyMode == GCLatencyMode.Interactive} server={GCSettings.IsServerGC} gen0size={Environment.GetEnvironmentVariable("DOTNET_GCgen0size") ?? "default"} stress={stress}");

using var stop = new CancellationTokenSource();
long collections = 0;
var collector = new Thread(() =>
{
    while (!stop.IsCancellationRequested)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        collections++;
    }
}) { IsBackground = true, Name = "gc-stress" };
if (stress) collector.Start();

var digest = new StringBuilder();
void Line(string name, IEnumerable<double> values) =>
    digest.AppendLine($"{name}: {string.Join(' ', values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}");

var vocabulary = ByteLevelBpeVocabulary.FromMerges([("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "a")]);
string tokenizerDirectory = Path.Combine(root, "tokenizer");
vocabulary.Save(tokenizerDirectory);
var tokenizer = HfTokenizer.Load(tokenizerDirectory);
int vocab = vocabulary.Count;

var gpt2 = ModelConfig.Gpt2(layers: 2, hidden: 32, heads: 4, vocabSize: vocab, positions: 256);
var llama = ModelConfig.Llama(layers: 2, hidden: 32, heads: 4, kvHeads: 2, intermediate: 64, vocabSize: vocab, positions: 256);
CausalLanguageModel Model(ModelConfig config, ulong seed)
{
    CausalLanguageModel model = config.Architecture == Architecture.Llama ? new LlamaForCausalLM(config, ModelOptions.Cpu) : new GPT2LMHeadModel(config, ModelOptions.Cpu);
    model.InitializeWeights(new Generator(seed));
    model.eval();
    return model;
}
PromptedModel Prompted(string name, CausalLanguageModel model) => new(name, model, tokenizer, PromptTemplate.Raw);

using var largeModel = Model(llama, 1);
using var tunedModel = Model(gpt2, 2);
using var untunedModel = Model(gpt2, 3);
var (large, tuned, untuned) = (Prompted("large", largeModel), Prompted("tuned", tunedModel), Prompted("untuned", untunedModel));
SearchPrompt[] prompts = [new(0, "the cat"), new(1, "a tale of")];
var generation = new GenerationOptions(24, new SamplingOptions(), null, 7);

foreach (var output in new ChunkLevelBeamSearch(large, LogProbScorer.ImplicitValue(large, tuned, untuned), new BeamSearchOptions(2, 2, 4), generation).Run(prompts))
    Line($"cbs {output.Prompt.Index}", [.. output.Best.TokenIds.Select(id => (double)id), output.Best.Score]);
var eft = new EmulatedFineTuning(large, tuned, untuned, 1.0, generation).Run(prompts);
foreach (var output in eft)
    Line($"eft {output.Prompt.Index}", output.Best.TokenIds.Select(id => (double)id));

var rewardConfig = gpt2.WithClassificationHead(1);
using (var classifier = new GPT2ForSequenceClassification(rewardConfig, ModelOptions.Cpu))
{
    classifier.InitializeWeights(new Generator(4));
    using var reward = new RewardModel(classifier, tokenizer, ModelOptions.Cpu);
    Line("reward", reward.Logits(eft.Select(o => o.Prompt.Text + o.Best.Text).ToArray()).Select(l => (double)l[0]));
    var pairs = new Preference[] { new("the cat", " sat", " ran away"), new("a tale", " of two", " the end") };
    var options = new TrainingOptions { Steps = 3, BatchSize = 2, WarmupSteps = 1, Seed = 5 };
    Line("rm", RewardModelTraining.BradleyTerry(classifier, tokenizer, pairs, options).Select(s => s.Loss));
}

var training = new TrainingOptions { Steps = 3, BatchSize = 2, WarmupSteps = 1, Seed = 6 };
string[] corpus = ["the cat sat on the mat", "a tale of two cities", "the heat of the day"];
using (var pretrained = Model(llama, 8))
    Line("pretrain", LanguageModelTraining.Pretrain(pretrained, tokenizer, corpus, 8, training).Select(s => s.Loss));
using (var policy = Model(gpt2, 9))
{
    Line("sft", LanguageModelTraining.FineTune(policy, tokenizer, [new("the cat", " sat"), new("a tale", " of two")], training).Select(s => s.Loss));
    using var reference = Model(gpt2, 9);
    Line("dpo", DirectPreferenceOptimization.Train(policy, reference, tokenizer,
        [new("the cat", " sat", " ran"), new("a tale", " of two", " the end")], 0.1, training).Select(s => s.Loss));
}

stop.Cancel();
if (stress) collector.Join();
Console.Write(digest.ToString());
Console.Error.WriteLine($"gc: {collections} forced collections, {GC.CollectionCount(0)} gen0 collections");
return 0;
