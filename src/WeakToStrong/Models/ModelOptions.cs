using TorchSharp;
using static TorchSharp.torch;

namespace WeakToStrong.Models;

/// <summary>Where a model lives and in which precision it computes.</summary>
public sealed record ModelOptions(Device Device, ScalarType DType)
{
    public static ModelOptions Cpu { get; } = new(CPU, ScalarType.Float32);

    /// <summary>Parses the CLI's <c>--device cpu|cuda[:n]</c> and <c>--dtype float32|bfloat16|float16</c>.</summary>
    public static ModelOptions Parse(string device, string? dtype)
    {
        Device parsedDevice;
        if (device == "cpu") parsedDevice = CPU;
        else if (device == "cuda" || (device.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(device[5..], out _)))
        {
            if (!cuda.is_available())
                throw new InvalidInputException($"--device {device}: CUDA is not available (build with -p:TorchBackend=cuda on a machine with an NVIDIA GPU)");
            parsedDevice = torch.device(device);
        }
        else throw new InvalidInputException($"--device: expected cpu, cuda or cuda:N, got \"{device}\"");

        return new ModelOptions(parsedDevice, ParseDType(dtype));
    }

    /// <summary>The CLI's <c>--dtype float32|bfloat16|float16</c>.</summary>
    public static ScalarType ParseDType(string? dtype) => dtype switch
    {
        null => ScalarType.Float32, // CPU and GPU alike default to exact fp32; ask for bf16 explicitly
        "float32" or "fp32" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" => ScalarType.Float16,
        _ => throw new InvalidInputException($"--dtype: expected float32, bfloat16 or float16, got \"{dtype}\""),
    };
}
