import { CommanderError } from 'commander';
import { program, UsageError } from './cli.ts';
import { RegistryFileError } from './source/registry-file.ts';

// The process entry: parse argv, run, and turn failures into a message and a non-zero exit.
try {
  await program().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // commander already printed the message (or the help text, which exits 0).
    process.exitCode = err.exitCode;
  } else if (err instanceof UsageError) {
    process.stderr.write(`error: ${err.message}\n(run with --help for usage)\n`);
    process.exitCode = 2;
  } else if (err instanceof RegistryFileError) {
    process.stderr.write(`dubbo-dns: ${err.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`dubbo-dns: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
