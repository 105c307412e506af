// Entry point of the `sara` command: everything lives in SaraCli so tests can run it in-process.
return Sara.Cli.SaraCli.Run(args, Console.Out, Console.Error);
