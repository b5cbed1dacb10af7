// ferry completion bash|zsh: a completion script made from the program itself, so that a command
// or an option added to program.ts completes at once. zsh runs the bash one through bashcompinit.
import type { Command } from 'commander';
import { FerryError } from '../common/errors.ts';

function longOptions(command: Command): string[] {
  return command.options.map((o) => o.long).filter((o): o is string => Boolean(o));
}

export function completionScript(program: Command, shell: string): string {
  if (shell !== 'bash' && shell !== 'zsh') throw new FerryError('BAD_REQUEST', `completion is for bash or zsh, not "${shell}"`, { hint: 'ferry completion bash, or ferry completion zsh' });
  const globals = [...longOptions(program), '--help'];
  const cases = program.commands
    .map((c) => `    ${c.name()}) words_for="${[...longOptions(c), ...globals].join(' ')}" ;;`)
    .join('\n');
  const bash = `# ferry completion (bash): source <(ferry completion bash)
_ferry() {
  local cur=\${COMP_WORDS[COMP_CWORD]} command=\${COMP_WORDS[1]} words_for
  if ((COMP_CWORD == 1)); then
    COMPREPLY=($(compgen -W "${program.commands.map((c) => c.name()).join(' ')} help" -- "$cur"))
    return
  fi
  case $command in
${cases}
    *) words_for="${globals.join(' ')}" ;;
  esac
  if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "$words_for" -- "$cur")); fi
}
complete -o default -F _ferry ferry
`;
  return shell === 'bash' ? bash : `# ferry completion (zsh): source <(ferry completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n${bash}`;
}
