using static TorchSharp.torch;

namespace WeakToStrong.Models;

/// <summary>
/// Which device holds each decoder layer of a model split across several devices (accelerate's <c>device_map</c>):
/// the embeddings sit on the first device, the final norm and the LM head on the last (a head tied to the
/// embeddings stays with them, as accelerate keeps tied weights together), and every layer on its slot's device.
/// Slots, not device identities, decide where a tensor moves, so a map of several CPU slots exercises every move.
/// The counters record what the backbone moved; they are how tests see the mechanics on a machine with one device.
/// </summary>
public sealed class DeviceMap
{
    readonly int[] layerSlots;

    DeviceMap(IReadOnlyList<Device> devices, int[] layerSlots)
    {
        Devices = devices;
        this.layerSlots = layerSlots;
    }

    /// <summary>The devices in order; slot 0 holds the embeddings, the last slot the final norm and head.</summary>
    public IReadOnlyList<Device> Devices { get; }

    public Device First => Devices[0];
    public Device Last => Devices[^1];
    public bool IsSplit => Devices.Count > 1;

    /// <summary>The slot (index into <see cref="Devices"/>) of each decoder layer.</summary>
    public IReadOnlyList<int> LayerSlots => layerSlots;

    public Device LayerDevice(int layer) => Devices[layerSlots[layer]];

    /// <summary>Hidden states moved from one slot to the next since the map was made (devices − 1 per forward).</summary>
    public long HiddenStateMoves { get; private set; }

    /// <summary>Per-forward layer inputs (attention mask, rotary cos/sin) copied to a later slot.</summary>
    public long LayerInputCopies { get; private set; }

    /// <summary>Outputs (logits, classifier scores) moved back to the device of the inputs.</summary>
    public long OutputMoves { get; private set; }

    public static DeviceMap Single(Device device, int numLayers) => new([device], new int[numLayers]);

    /// <summary>
    /// The map for a model of <paramref name="config"/> in <paramref name="dtype"/> over <paramref name="devices"/>:
    /// layers balanced by parameter bytes (<see cref="BalanceLayers"/>). <paramref name="capacities"/> (bytes per device)
    /// weigh the shares and bound each device; null means equal devices of unknown size (TorchSharp cannot query a GPU's memory).
    /// </summary>
    public static DeviceMap For(ModelConfig config, ScalarType dtype, IReadOnlyList<Device> devices, IReadOnlyList<long>? capacities = null)
    {
        if (devices.Count == 0) throw new InvalidInputException("--device: expected at least one device");
        if (devices.Count == 1) return Single(devices[0], config.NumHiddenLayers);
        long bytesPerElement = MemoryEstimate.BytesPerElement(dtype);
        var layers = Enumerable.Repeat(MemoryEstimate.LayerParameters(config) * bytesPerElement, config.NumHiddenLayers).ToArray();
        var slots = BalanceLayers(MemoryEstimate.EmbeddingParameters(config) * bytesPerElement, layers,
            MemoryEstimate.HeadParameters(config) * bytesPerElement, devices.Count, capacities, config.Path);
        return new DeviceMap(devices, slots);
    }

    /// <summary>
    /// The split rule. The model is a sequence of parameter bytes: embeddings, layer 0 … layer n−1, head (final norm and an
    /// untied LM head). Device d owns the interval of that sequence proportional to its capacity (equal intervals for equal
    /// devices, as accelerate's "auto"/"balanced" map gives on identical GPUs), and each layer goes to the device whose interval
    /// holds the layer's midpoint: contiguous runs of layers, embeddings on the first device, head on the last. A device whose
    /// capacity is known and exceeded is an error with the numbers.
    /// </summary>
    public static int[] BalanceLayers(long embeddingBytes, IReadOnlyList<long> layerBytes, long headBytes, int deviceCount,
        IReadOnlyList<long>? capacities = null, string what = "model")
    {
        if (capacities is not null && capacities.Count != deviceCount)
            throw new ArgumentException($"{capacities.Count} capacities for {deviceCount} devices", nameof(capacities));
        double total = embeddingBytes + layerBytes.Sum() + headBytes;
        var weights = capacities?.Select(c => (double)c).ToArray() ?? Enumerable.Repeat(1.0, deviceCount).ToArray();
        double weightSum = weights.Sum();
        var boundaries = new double[deviceCount]; // end of each device's interval
        double running = 0;
        for (int d = 0; d < deviceCount; d++) boundaries[d] = total * (running += weights[d]) / weightSum;

        var slots = new int[layerBytes.Count];
        var used = new long[deviceCount];
        used[0] += embeddingBytes;
        used[deviceCount - 1] += headBytes;
        double start = embeddingBytes;
        int slot = 0;
        for (int layer = 0; layer < layerBytes.Count; layer++)
        {
            double midpoint = start + layerBytes[layer] / 2.0;
            while (slot < deviceCount - 1 && midpoint >= boundaries[slot]) slot++;
            slots[layer] = slot;
            used[slot] += layerBytes[layer];
            start += layerBytes[layer];
        }
        if (capacities is not null)
            for (int d = 0; d < deviceCount; d++)
                if (used[d] > capacities[d])
                    throw new InvalidInputException(
                        $"{what}: device {d} of the device map needs {MemoryEstimate.Gib(used[d])} of weights but holds {MemoryEstimate.Gib(capacities[d])}; add devices or use a smaller dtype");
        return slots;
    }

    /// <summary>The hidden state for layer <paramref name="layer"/>: moved to its device when the previous layer was on another slot.</summary>
    public Tensor ToLayer(int layer, Tensor hidden)
    {
        if (!StartsSlot(layer)) return hidden;
        HiddenStateMoves++;
        return hidden.to(LayerDevice(layer));
    }

    /// <summary>A tensor every layer reads (mask, cos, sin), copied once per slot: when <paramref name="layer"/> starts a new slot.</summary>
    public Tensor? LayerInput(int layer, Tensor? input)
    {
        if (input is null || !StartsSlot(layer)) return input;
        LayerInputCopies++;
        return input.to(LayerDevice(layer));
    }

    /// <summary>The last layer's output, moved to the last slot (final norm and head) if the last layer sits elsewhere.</summary>
    public Tensor ToHead(Tensor hidden)
    {
        int lastLayerSlot = layerSlots.Length == 0 ? 0 : layerSlots[^1];
        if (lastLayerSlot == Devices.Count - 1) return hidden;
        HiddenStateMoves++;
        return hidden.to(Last);
    }

    /// <summary>
    /// A tensor on the last slot (logits, or the final hidden state for a head tied to the embeddings) moved to the first
    /// device, where the inputs are: callers mix outputs with tensors made on the input device, as accelerate's
    /// io_same_device hook lets transformers' callers do.
    /// </summary>
    public Tensor ToOutput(Tensor output)
    {
        if (!IsSplit) return output;
        OutputMoves++;
        return output.to(First);
    }

    bool StartsSlot(int layer) => layer == 0 ? layerSlots[0] != 0 : layerSlots[layer] != layerSlots[layer - 1];

    /// <summary>Where everything is, e.g. "cuda:0 embeddings + layers 0–39; cuda:1 layers 40–79 + head".</summary>
    public override string ToString() => string.Join("; ", Enumerable.Range(0, Devices.Count).Select(slot =>
    {
        var layers = Enumerable.Range(0, layerSlots.Length).Where(i => layerSlots[i] == slot).ToArray();
        var parts = new List<string>();
        if (slot == 0) parts.Add("embeddings");
        if (layers.Length > 0) parts.Add(layers.Length == 1 ? $"layer {layers[0]}" : $"layers {layers[0]}–{layers[^1]}");
        if (slot == Devices.Count - 1) parts.Add("head");
        return $"{Devices[slot]} {string.Join(" + ", parts)}";
    }));
}
