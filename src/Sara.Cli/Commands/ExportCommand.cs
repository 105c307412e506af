using System.CommandLine;
using System.Globalization;
using Sara.Native.IO;
using Sara.Native.Peft;

namespace Sara.Cli.Commands;

/// <summary>`sara export ADAPTER --format peft -o DIR`: a SARA adapter as a PEFT LoRA folder with the same update (no rank doubling).</summary>
internal static class ExportCommand
{
    public static Command Create(CliContext context)
    {
        var adapterPath = new Argument<string>("adapter") { Description = "SARA adapter (.safetensors written by AdapterFile)" };
        var format = new Option<string>("--format")
        {
            Description = "peft: adapter_config.json + adapter_model.safetensors, as PEFT's save_pretrained writes them",
            DefaultValueFactory = _ => "peft",
        };
        format.Validators.Add(result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : null;
            if (text is not null && text != "peft") result.AddError($"unknown --format '{SafeText.Name(text)}'; expected peft");
        });
        var output = new Option<string>("--output", "-o") { Description = "folder to write (created when missing)", Required = true };
        var portable = new Option<bool>("--portable")
        {
            Description = "one global lora_alpha and no rank/alpha patterns, each lora_A carrying k / alpha (llama.cpp's converter scales by lora_alpha / each tensor's rank)",
        };
        var prefix = new Option<string>("--prefix")
        {
            Description = "put before each layer name in the tensor keys",
            DefaultValueFactory = _ => PeftLoraConfig.DefaultPrefix,
        };
        var baseModel = new Option<string?>("--base-model") { Description = "written as base_model_name_or_path (e.g. a Hugging Face model id)" };
        var command = new Command("export", "Write a SARA adapter as a PEFT LoRA (lora_B = A, lora_A = diag(s lambda) B, r = k per layer): "
                                            + "the same update for PEFT and for readers of the global lora_alpha / r (vLLM); --portable for llama.cpp's converter.")
        {
            adapterPath, format, output, portable, prefix, baseModel,
        };
        command.SetAction(r => context.Guard("export", () =>
        {
            var a = CommonOptions.RequireFile(r.GetValue(adapterPath)!, "adapter");
            var folder = r.GetValue(output)!;
            if (File.Exists(folder)) throw new UserErrorException($"--output '{SafeText.Line(folder)}' is a file; a PEFT adapter is a folder");
            foreach (var file in new[] { PeftLoraConfig.WeightsFileName, PeftLoraConfig.FileName })
                OutputFile.Check(Path.Combine(folder, file), "the output", [(a, "adapter")]);
            var adapter = AdapterFile.Load(a);
            if (adapter.Metadata.Method == AdapterMethod.MoSara)
                throw new UserErrorException($"'{SafeText.Line(a)}' is a Mo-SARA adapter, which has no PEFT LoRA equivalent: {PeftExporter.MoSaraReason}");
            var options = new PeftExportOptions { Portable = r.GetValue(portable), Prefix = r.GetValue(prefix)!, BaseModelNameOrPath = r.GetValue(baseModel) };
            var lora = PeftExporter.FromSara(adapter, options);
            lora.Save(folder);
            var inv = CultureInfo.InvariantCulture;
            var ranks = string.Join("/", lora.Modules.Select(m => m.R.ToString(inv)));
            context.Output.WriteLine(options.Portable
                ? $"exported {lora.Modules.Count} layers (ranks {ranks}) as a portable PEFT LoRA: r = lora_alpha = {lora.Config.R}, no patterns, each lora_A scaled by k / {lora.Config.R}: {SafeText.Line(folder)}"
                : $"exported {lora.Modules.Count} layers (ranks {ranks}) as a PEFT LoRA: rank_pattern = alpha_pattern = k per module (scaling 1), r = lora_alpha = {lora.Config.R}: {SafeText.Line(folder)}");
            return 0;
        }));
        return command;
    }
}
