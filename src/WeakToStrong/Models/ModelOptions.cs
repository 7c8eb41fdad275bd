using TorchSharp;
using static TorchSharp.torch;

namespace WeakToStrong.Models;

/// <summary>Where a model lives and in which precision it computes.</summary>
public sealed record ModelOptions(Device Device, ScalarType DType)
{
    public static ModelOptions Cpu { get; } = new(CPU, ScalarType.Float32);

    /// <summary>
    /// The devices a model's decoder layers are split across (<see cref="DeviceMap"/>); <see cref="Device"/> is the first,
    /// where inputs go and outputs come back. One device (the default) means no split.
    /// </summary>
    public IReadOnlyList<Device> Devices { get; init; } = [Device];

    /// <summary>The same precision on one device: the options of one part of a split model.</summary>
    public ModelOptions On(Device device) => new(device, DType);

    /// <summary>
    /// Parses the CLI's <c>--device cpu|cuda[:n]|auto</c> or a comma-separated list of devices (a layer-wise device map,
    /// e.g. <c>cuda:0,cuda:1</c>), and <c>--dtype float32|bfloat16|float16</c>. <c>auto</c> means every visible CUDA
    /// device, or the CPU where there is none.
    /// </summary>
    public static ModelOptions Parse(string device, string? dtype)
    {
        var devices = ParseDevices(device, "--device");
        return new ModelOptions(devices[0], ParseDType(dtype)) { Devices = devices };
    }

    /// <summary>A device, a comma-separated list of devices, or <c>auto</c>; <paramref name="what"/> names the flag or key in errors.</summary>
    public static IReadOnlyList<Device> ParseDevices(string device, string what)
    {
        if (device == "auto")
        {
            int count = cuda.is_available() ? cuda.device_count() : 0;
            return count == 0 ? [CPU] : Enumerable.Range(0, count).Select(i => torch.device(DeviceType.CUDA, i)).ToArray();
        }
        var parts = device.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Any(p => p.Length == 0))
            throw new InvalidInputException($"{what}: expected cpu, cuda, cuda:N, auto or a comma-separated list such as cuda:0,cuda:1, got \"{device}\"");
        return parts.Select(p => ParseDevice(p, device, what)).ToArray();
    }

    static Device ParseDevice(string device, string whole, string what)
    {
        if (device == "cpu") return CPU;
        if (device == "cuda" || (device.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(device[5..], out _)))
        {
            if (!cuda.is_available())
                throw new InvalidInputException($"{what} {whole}: CUDA is not available (build with -p:TorchBackend=cuda on a machine with an NVIDIA GPU)");
            return torch.device(device);
        }
        throw new InvalidInputException($"{what}: expected cpu, cuda, cuda:N, auto or a comma-separated list such as cuda:0,cuda:1, got \"{whole}\"");
    }

    /// <summary>The devices as <c>--device</c> names them (cpu, cuda:N), comma-separated: what <see cref="DeviceMemory.Of"/> reads.</summary>
    public string DeviceNames => string.Join(",", Devices.Select(d => d.type == DeviceType.CPU ? "cpu" : $"cuda:{Math.Max(0, (int)d.index)}"));

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
