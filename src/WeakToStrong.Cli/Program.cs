using static TorchSharp.torch;
using var a = ones(4, 4);
Console.WriteLine(a.matmul(a).sum().item<float>());
