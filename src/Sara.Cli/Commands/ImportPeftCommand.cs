using System.CommandLine;
using System.Globalization;
using Sara.Native.IO;
using Sara.Native.Peft;
using Spectre.Console;

namespace Sara.Cli.Commands;

/// <summary>`sara import-peft DIR -o ADAPTER`: a PEFT LoRA re-factored into a SARA adapter (QR, QR, SVD of the r x r core).</summary>
internal static class ImportPeftCommand
{
    public static Command Create(CliContext context)
    {
        var folder = new Argument<string>("folder") { Description = "PEFT LoRA folder (adapter_config.json + adapter_model.safetensors)" };
        var output = new Option<string>("--output", "-o") { Description = "SARA adapter to write (.safetensors)", Required = true };
        var prefix = new Option<string>("--prefix")
        {
            Description = "removed from the start of each tensor key to name the SARA layer",
            DefaultValueFactory = _ => PeftLoraConfig.DefaultPrefix,
        };
        var tolerance = CommonOptions.Number("--rank-tolerance", [],
            "singular values at or below this fraction of the largest are dropped (default r * 2^-23, float32 rounding of the factors)",
            -1.0, v => v is >= 0 and < 1, "in [0, 1)");
        var command = new Command("import-peft", "Read a PEFT LoRA and write it as a SARA adapter with the same update "
                                                 + "(A = Q_B U, B = (Q_A V)^T, lambda = S); training then continues as SARA.")
        {
            folder, output, prefix, tolerance,
        };
        command.SetAction(r => context.Guard("import-peft", () =>
        {
            var o = r.GetValue(output)!;
            var dir = r.GetValue(folder)!;
            OutputFile.Check(o, "the output", [(Path.Combine(dir, PeftLoraConfig.WeightsFileName), "LoRA weights"), (Path.Combine(dir, PeftLoraConfig.FileName), "LoRA config")]);
            var lora = PeftLora.Load(dir, r.GetValue(prefix)!);
            var given = r.GetValue(tolerance);
            var (adapter, layers) = PeftImporter.ToSara(lora, r.GetValue(prefix)!, given >= 0 ? given : null);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(o))!);
            adapter.Save(o);

            var inv = CultureInfo.InvariantCulture;
            var table = new Table();
            table.AddColumn("module");
            foreach (var h in new[] { "shape", "r", "scaling", "effective rank", "sigma_1", "smallest kept" }) table.AddColumn(new TableColumn(h).RightAligned());
            foreach (var l in layers)
                table.AddRow(Markup.Escape(SafeText.Name(l.Name)), $"{l.Out}x{l.In}", l.R.ToString(inv), l.Scaling.ToString("G6", inv),
                    l.EffectiveRank.ToString(inv), l.LargestSingularValue.ToString("0.###E+0", inv), l.SmallestKeptSingularValue.ToString("0.###E+0", inv));
            context.CreateConsole().Write(table);
            var reduced = layers.Count(l => l.EffectiveRank > 0 && l.EffectiveRank < l.R);
            var zero = layers.Count(l => l.EffectiveRank == 0);
            context.Output.WriteLine($"imported {adapter.Layers.Count} of {layers.Count} modules as SARA layers ({reduced} with an effective rank below r"
                                     + (zero > 0 ? $", {zero} with a zero update left out" : "") + $"): {SafeText.Line(o)}");
            return 0;
        }));
        return command;
    }
}
