using System.CommandLine;
using Sara.Cli.Merge;
using Sara.Native.Backends;
using Sara.Native.IO;

namespace Sara.Cli.Commands;

/// <summary>`sara merge BASE ADAPTER -o OUT`: W0 + s A diag(lambda) B for each adapted layer, other tensors copied unchanged.</summary>
internal static class MergeCommand
{
    public static Command Create(CliContext context)
    {
        var basePath = new Argument<string>("base") { Description = "base checkpoint (.safetensors, or a sharded one's model.safetensors.index.json)" };
        var adapterPath = new Argument<string>("adapter") { Description = "SARA adapter (.safetensors written by AdapterFile)" };
        var output = new Option<string>("--output", "-o")
        {
            Description = "merged checkpoint to write (.safetensors; for a sharded base, an index .json in another folder, its shards written beside it); "
                          + "never the base or the adapter, and not a symbolic link",
            Required = true,
        };
        var device = CommonOptions.Device();
        var command = new Command("merge", "Fold a SARA adapter into its base weights: same tensor names and dtypes, no inference overhead.")
        {
            basePath, adapterPath, output, device,
        };
        command.SetAction(r => context.Guard("merge", () =>
        {
            var b = CommonOptions.RequireFile(r.GetValue(basePath)!, "base checkpoint");
            var a = CommonOptions.RequireFile(r.GetValue(adapterPath)!, "adapter");
            var o = r.GetValue(output)!;
            using var backend = Devices.Create(r.GetValue(device));
            var result = AdapterMerger.Merge(backend, b, a, o);
            context.Output.WriteLine($"merged {result.MergedLayers} adapted layers, copied {result.CopiedTensors} other tensors unchanged, on {backend.Name}: {SafeText.Line(o)}");
            return 0;
        }));
        return command;
    }
}
