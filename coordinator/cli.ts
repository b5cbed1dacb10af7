// ferry: the coordinator CLI. program.ts declares the commands and their options (commander);
// this file makes what they need of the fleet (the inventory, the coordinator's certificate, SSH
// tunnels) and turns every failure, usage errors included, into a Ferry error with its exit code:
// 0 ok, 1 failed (the container runs on the source), 2 bad usage, 3 failed and the rollback did
// not complete.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { CommanderError } from 'commander';
import { Dialer } from '../common/dial.ts';
import { FerryError } from '../common/errors.ts';
import { DEFAULT_PKI_DIR, loadTls, type TlsFiles } from '../common/pki.ts';
import { SshTunnels } from '../common/ssh/tunnels.ts';
import { loadInventory, locateInventory, type Inventory } from './inventory.ts';
import { defaultOutput, report, type Output } from './output.ts';
import { buildProgram, type Runner } from './program.ts';

export async function main(argv: string[], io: Output = defaultOutput(false)): Promise<number> {
  // bin/ferry passes the name it was run by (bin/migrate links to it); `migrate --from A --to B C`
  // means `ferry migrate --from A --to B C`.
  const invokedAs = process.env.FERRY_AS ?? basename(process.argv[1] ?? 'ferry');
  const args = invokedAs === 'migrate' && argv[0] !== 'migrate' ? ['migrate', ...argv] : argv;
  const json = args.includes('--json');
  let code = 0;
  const runner: Runner = {
    withFleet: async (globals, work) => {
      const output = { ...io, json: globals.json === true };
      try {
        const inventory = loadInventory(locateInventory(globals.inventory));
        const tls = await coordinatorTls(globals.tlsDir, inventory);
        const knownHosts = globals.knownHosts ?? inventory.knownHosts ?? DEFAULT_KNOWN_HOSTS;
        const tunnels = new SshTunnels({ knownHosts, acceptNew: globals.acceptNewHostKeys === true });
        const dialer = new Dialer({ tls, tunnels, preferDirect: false });
        const caDir = globals.tlsDir ?? inventory.tls?.dir ?? DEFAULT_PKI_DIR;
        try {
          code = await work({ inventory, dialer, tunnels, knownHosts, caDir }, output);
        } finally {
          await dialer.close();
        }
      } catch (error) {
        code = report(FerryError.from(error), output);
      }
    },
    plain: async (globals, work) => {
      const output = { ...io, json: globals.json === true };
      try {
        code = await work(output);
      } catch (error) {
        code = report(FerryError.from(error), output);
      }
    },
  };
  const program = buildProgram(runner);
  // Usage errors come back here as CommanderError, to be said the way every Ferry error is.
  for (const command of [program, ...program.commands]) {
    command.exitOverride().configureOutput({ writeOut: (text) => io.out(text.trimEnd()), writeErr: (text) => io.err(text.trimEnd()), outputError: () => undefined });
  }
  if (!args.length) {
    io.out(program.helpInformation().trimEnd());
    return 2;
  }
  try {
    await program.parseAsync(args, { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.help' || error.code === 'commander.version') return 0;
      const command = args.find((a) => program.commands.some((c) => c.name() === a));
      const message = error.message.replace(/^error:\s*/, '');
      return report(new FerryError('BAD_REQUEST', message, { hint: `See \`ferry ${command ? `${command} ` : ''}--help\`.` }), { ...io, json });
    }
    return report(FerryError.from(error), { ...io, json });
  }
}

/** The user's own known_hosts, as ssh reads it. */
const DEFAULT_KNOWN_HOSTS = join(homedir(), '.ssh', 'known_hosts');

/**
 * The coordinator's certificate: from --tls-dir, else the inventory's "tls", else the default
 * PKI directory when it has one; without any, plaintext (agents started with --insecure).
 */
async function coordinatorTls(dir: string | undefined, inventory: Inventory): Promise<TlsFiles | undefined> {
  if (dir) return loadTls(dir, 'coordinator');
  if (inventory.tls) return loadTls(inventory.tls.dir, inventory.tls.name);
  if (existsSync(`${DEFAULT_PKI_DIR}/coordinator.pem`)) return loadTls(DEFAULT_PKI_DIR, 'coordinator');
  return undefined;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`ferry: internal error: ${String(error)}\n`);
      process.exit(1);
    },
  );
}
