// Entry point of the `sara` command: everything lives in SaraCli so tests can run it in-process.
using System.Runtime.InteropServices;
using Sara.Native.IO;

// Ctrl-C or a SIGTERM during a write: remove the temporary file before the process ends (the target stays as it was).
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => AtomicFile.DeleteInFlight());
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => AtomicFile.DeleteInFlight());
return Sara.Cli.SaraCli.Run(args, Console.Out, Console.Error);
