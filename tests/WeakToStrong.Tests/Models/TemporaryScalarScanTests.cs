using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace WeakToStrong.Tests.Models;

/// <summary>
/// TorchSharp 0.107 can finalize a temporary Scalar while the native op it was passed to still reads it (a collection
/// started by any thread frees it mid-call: "Expected false to be true", "Unknown scalar type", or a silently wrong
/// value; see GcStressTests). The library therefore owns every Scalar it passes (static readonly fields for constants,
/// a `using` variable around the call for runtime values). This test compiles src/WeakToStrong and src/WeakToStrong.Cli with Roslyn and fails
/// on every place that makes one implicitly: a C# number converted to Scalar, or a TorchSharp member that makes one
/// inside (operators with a number, tensor + tensor and add(tensor) with their hidden alpha of 1, arange with fewer
/// than three bounds, addcdiv without a value, TorchSharp's optimizers).
/// </summary>
public class TemporaryScalarScanTests
{
    /// <summary>Reviewed places outside any loop, as "File.cs: code", where a temporary is harmless. Empty: none needed.</summary>
    static readonly HashSet<string> Allowed = [];

    [Fact]
    public void TheLibraryAndCliMakeNoImplicitTemporaryScalar()
    {
        var findings = Scan(new[] { "WeakToStrong", "WeakToStrong.Cli" }
            .SelectMany(project => Directory.EnumerateFiles(Path.Combine(RepositoryPaths.Root, "src", project), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .Select(f => (Path.GetRelativePath(RepositoryPaths.Root, f), File.ReadAllText(f))));

        Assert.True(findings.Count == 0, $"{findings.Count} implicit temporary Scalars (own them: a static readonly Scalar or `using var s = value.ToScalar()`):\n" + string.Join('\n', findings));
    }

    [Fact]
    public void TheScanFindsEachKindOfTemporary()
    {
        const string code = """
            using TorchSharp;
            using static TorchSharp.torch;
            static class Sample
            {
                static readonly Scalar Half = 0.5.ToScalar();
                static Tensor Bad(Tensor x, Tensor y, double beta)
                {
                    var a = x * 0.5;
                    var b = x + y;
                    var c = x.masked_fill(y.eq(Half), -1e9);
                    var d = arange(10, dtype: ScalarType.Int64);
                    var e = x.add_(y);
                    var f = beta * x;
                    return a.pow(2);
                }
                static Tensor Good(Tensor x, Tensor y)
                {
                    using var scale = 2.0.ToScalar();
                    return x.mul(Half).sub(y).div(y).mul(scale).add(y, Half);
                }
            }
            """;
        var findings = Scan([("Sample.cs", code)]);

        Assert.Equal(["x * 0.5", "x + y", "-1e9", "arange(10, dtype: ScalarType.Int64)", "10", "x.add_(y)", "beta * x", "2"],
            findings.Select(f => f[(f.IndexOf(": ", StringComparison.Ordinal) + 2)..]).ToArray());
    }

    static List<string> Scan(IEnumerable<(string Path, string Text)> files)
    {
        const string globalUsings = "global using System; global using System.Collections.Generic; global using System.IO; global using System.Linq; " +
            "global using System.Net.Http; global using System.Threading; global using System.Threading.Tasks;";
        var options = new CSharpParseOptions(LanguageVersion.Preview);
        var trees = files.Select(f => CSharpSyntaxTree.ParseText(f.Text, options, f.Path)).Append(CSharpSyntaxTree.ParseText(globalUsings, options)).ToList();
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat(Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll"))
            .GroupBy(Path.GetFileName).Select(g => g.First())
            .Where(p => !Path.GetFileName(p).StartsWith("WeakToStrong", StringComparison.Ordinal) && !Path.GetFileName(p).StartsWith("wts", StringComparison.Ordinal))
            .Select(p => MetadataReference.CreateFromFile(p));
        var compilation = CSharpCompilation.Create("Scan", trees, references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable));
        // CS8795: the bodies of [GeneratedRegex] and [LibraryImport] methods come from source generators, not run here;
        // CS8805: the CLI's top-level Program.cs, compiled here into a library with the rest.
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error && d.Id is not ("CS8795" or "CS8805")).Take(5).ToList();
        Assert.True(errors.Count == 0, "the scan must see every type: " + string.Join('\n', errors));

        var findings = new List<string>();
        foreach (var tree in trees)
        {
            var model = compilation.GetSemanticModel(tree);
            foreach (var node in tree.GetRoot().DescendantNodes())
            {
                string? why = node switch
                {
                    ExpressionSyntax e when model.GetConversion(e) is { IsUserDefined: true, MethodSymbol: var m } && IsScalar(m!.ContainingType) => "number → Scalar",
                    BinaryExpressionSyntax or AssignmentExpressionSyntax or InvocationExpressionSyntax
                        when model.GetSymbolInfo(node).Symbol is IMethodSymbol m && MakesOneInside(m) => "Scalar made inside TorchSharp",
                    _ => null,
                };
                if (why is null) continue;
                string code = node.ToString();
                string file = Path.GetFileName(tree.FilePath);
                if (Allowed.Contains($"{file}: {code}")) continue;
                var line = node.GetLocation().GetLineSpan().StartLinePosition.Line + 1;
                findings.Add($"{tree.FilePath}:{line} ({why}): {code}");
            }
        }
        return findings;
    }

    static bool IsScalar(ITypeSymbol? type) => type?.ToDisplayString() == "TorchSharp.Scalar";

    static bool IsNumber(ITypeSymbol type) => type.SpecialType is SpecialType.System_Int32 or SpecialType.System_Int64
        or SpecialType.System_Single or SpecialType.System_Double or SpecialType.System_Byte or SpecialType.System_Int16;

    /// <summary>TorchSharp 0.107 members whose own body converts a number to a Scalar (read from its source).</summary>
    static bool MakesOneInside(IMethodSymbol method)
    {
        string type = method.ContainingType.ToDisplayString();
        if (type == "TorchSharp.torch.optim") return true; // their step() converts the hyper-parameters on every call
        if (type is not ("TorchSharp.torch.Tensor" or "TorchSharp.torch")) return false;
        var parameters = method.Parameters;
        return method.MethodKind == MethodKind.UserDefinedOperator
            ? parameters.Any(p => IsNumber(p.Type)) || method.Name == "op_Addition" || (method.Name == "op_Subtraction" && IsScalar(parameters[0].Type))
            : method.Name switch
            {
                // add(tensor) and add(scalar) pass an alpha of 1; torch.add(a, b) calls a.add(b)
                "add" or "add_" => parameters.Count(p => p.Type.Name is "Tensor" or "Scalar") == (type == "TorchSharp.torch" ? 2 : 1),
                "addcdiv" or "addcdiv_" => !parameters.Any(p => IsScalar(p.Type)),
                "arange" => parameters.Count(p => IsScalar(p.Type)) < 3,
                _ => false,
            };
    }
}
