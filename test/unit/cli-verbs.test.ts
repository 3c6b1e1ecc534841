/**
 * The verb commands come from the message table (common/messages.ts VERBS): one command per verb, one option per
 * payload field, the verb's summary as its description; inputs are checked before any connection is made.
 */
import { Option } from 'commander';
import { VERB_NAMES, VERBS } from '../../common/messages';
import { buildProgram, main } from '../../client/cli';
import { fieldOptions, verbCommand } from '../../client/commands/verbs';
import { ExitCode } from '../../client/exit-codes';

const saved = { ...process.env };
beforeAll(() => {
  // Nothing listens on port 1: a command that connected would exit 5, not 2.
  process.env.TEMPORAL_ADDRESS = '127.0.0.1:1';
  process.env.TEMPORAL_CONFIG_FILE = '/nonexistent/canary-temporal.toml';
});
afterAll(() => {
  process.env = saved;
});

async function canary(...args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const errSpy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  const outSpy = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    return { code: await main(['node', 'canary', ...args]), stderr };
  } finally {
    errSpy.mockRestore();
    outSpy.mockRestore();
  }
}

const optionNames = (flags: readonly Option[]): string[] => flags.map((o) => o.long ?? o.flags);

describe('verb commands', () => {
  it('has one command per verb of the table, described by its summary', () => {
    const program = buildProgram();
    for (const verb of VERB_NAMES) {
      const cmd = program.commands.find((c) => c.name() === verb);
      expect({ verb, description: cmd?.description() }).toEqual({ verb, description: VERBS[verb].summary });
    }
  });

  it('turns each payload field into an option: text, whole number, switch; a required field is a required option', () => {
    expect(optionNames(verbCommand('approve').options)).toEqual(['--by', '--comment', '--step', '--json']);
    expect(optionNames(verbCommand('promote').options)).toEqual(['--by', '--full', '--comment', '--json']);
    const [reason] = fieldOptions('abort');
    expect(reason).toMatchObject({ field: 'reason', option: { long: '--reason', mandatory: true, required: true } });
    const full = fieldOptions('promote').find((f) => f.field === 'full');
    expect(full?.option).toMatchObject({ mandatory: false, required: false, optional: false });
    expect(fieldOptions('pause').map((f) => [f.field, f.option.mandatory])).toEqual([['reason', false]]);
  });

  it('adds an option that is not a payload field where a verb is declared (approve --sign-with)', () => {
    const cmd = verbCommand('approve', [{ option: new Option('--sign-with <key>', 'sign the approval'), apply: (p) => ({ ...p, signature: 'x' }) }]);
    expect(optionNames(cmd.options)).toEqual(['--by', '--comment', '--step', '--sign-with', '--json']);
    // A field such an option fills (a signature, say) gets no option of its own.
    const filling = verbCommand('approve', [{ option: new Option('--comment-file <path>'), fields: ['comment'], apply: (p) => p }]);
    expect(optionNames(filling.options)).toEqual(['--by', '--step', '--comment-file', '--json']);
  });

  it('refuses bad input with exit 2 before connecting: a --step that is no whole number, a missing --reason, no name', async () => {
    const step = await canary('approve', 'checkout', '--by', 'alice', '--step', '-1');
    expect(step.code).toBe(ExitCode.invalid);
    expect(step.stderr).toMatch(/--step "-1": /);
    const reason = await canary('abort', 'checkout', '--by', 'bob');
    expect(reason.code).toBe(ExitCode.invalid);
    expect(reason.stderr).toMatch(/required option '--reason <text>' not specified/);

    process.env.CANARY_USER = '';
    process.env.USER = '';
    process.env.USERNAME = '';
    const nobody = await canary('pause', 'checkout');
    expect(nobody).toEqual({ code: ExitCode.invalid, stderr: 'say who you are: --by NAME, or set CANARY_USER\n' });
  });
});
