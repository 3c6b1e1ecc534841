/**
 * Signed approvals and readable refusals, seen from the sending side with no project code: the stock `temporal`
 * CLI sends approve updates (signed with stock `ssh-keygen -Y sign`, or by client/signing.ts) to a small workflow
 * (test/support/signing-workflows.ts, in the shared test bundle) that verifies them with common/signing.ts inside the
 * workflow sandbox. Also records what a refused update looks like for each way a validator can throw.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { WorkflowUpdateFailedError, type Client, type Connection, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { temporalCli } from '../../dev/paths';
import { canonicalMessage, parsePublicKey, signedFields } from '../../common/signing';
import { readSigningKey, signPayload } from '../../client/signing';
import { testClient, testStack, testWorker, uniqueName } from '../support/env';
import type { RefusalStyle, signedGate, SignedGateInput, SignedGateState } from '../support/signing-workflows';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'signing');
const ALICE_PUB = fs.readFileSync(path.join(FIXTURES, 'alice_ed25519.pub'), 'utf8').trim();
const ALICE_FINGERPRINT = parsePublicKey(ALICE_PUB).fingerprint;

let client: Client;
let connection: Connection;
let nativeConnection: NativeConnection;
let worker: Worker;
let running: Promise<void>;
let tmp: string;
const taskQueue = uniqueName('signing');

beforeAll(async () => {
  ({ client, connection } = await testClient());
  // The shared test bundle (test/support/workflows.ts, built by webpack in global-setup) carries signedGate: it
  // imports common/signing.ts, so this also proves @noble/curves bundles and runs in the workflow sandbox.
  ({ worker, connection: nativeConnection } = await testWorker({ taskQueue }));
  running = worker.run();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'canary-signing-'));
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await nativeConnection?.close();
  await connection?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

type Gate = WorkflowHandleWithFirstExecutionRunId<typeof signedGate>;

async function startGate(over: Partial<SignedGateInput> = {}): Promise<Gate> {
  const input: SignedGateInput = { approverKeys: { alice: [ALICE_PUB] }, step: 3, refuse: 'message-rejected', maxAgeMs: 600_000, until: 1, ...over };
  // A loaded CI machine can take long over the first workflow task (the sandbox loads the bundle): give it time.
  const h = await client.workflow.start<typeof signedGate>('signedGate', {
    taskQueue,
    workflowId: uniqueName('release-sg'),
    args: [input],
    workflowTaskTimeout: '2m',
  });
  await h.query<SignedGateState>('state'); // answered once the first workflow task ran: handlers are set
  return h;
}

/** The `temporal` CLI, asynchronously (the worker answering the update runs in this process). */
async function temporal(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(temporalCli(), [...args, '--address', testStack.temporalAddress], {
      encoding: 'utf8',
      timeout: 90_000,
      env: { ...process.env, TEMPORAL_CONFIG_FILE: path.join(tmp, 'no-such-config.toml') },
    });
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, out: (err.stdout ?? '') + (err.stderr ?? '') };
  }
}

const approveViaCli = (h: Gate, payload: unknown) =>
  temporal(['workflow', 'update', 'execute', '--workflow-id', h.workflowId, '--name', 'approve', '--input', JSON.stringify(payload)]);

async function historyLength(h: Gate): Promise<{ events: number; accepted: number }> {
  const history = await h.fetchHistory();
  const events = history.events ?? [];
  return { events: events.length, accepted: events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length };
}

/** Signs the canonical message with stock ssh-keygen (namespace canary), as a person without our CLI does. */
async function sshKeygenSign(h: Gate, claims: { step: number; nonce: string; at: string }): Promise<Record<string, unknown>> {
  const key = path.join(tmp, 'alice_ed25519');
  fs.copyFileSync(path.join(FIXTURES, 'alice_ed25519'), key);
  fs.chmodSync(key, 0o600); // ssh-keygen refuses a private key others can read
  const signature = { release: h.workflowId, run: h.firstExecutionRunId, ...claims };
  const messageFile = path.join(tmp, `${claims.nonce}.txt`);
  fs.writeFileSync(messageFile, canonicalMessage(signedFields('approve', { by: 'alice', comment: 'dashboards fine' }), signature));
  await promisify(execFile)('ssh-keygen', ['-Y', 'sign', '-n', 'canary', '-f', key, messageFile]);
  return { by: 'alice', comment: 'dashboards fine', step: claims.step, signature: { ...signature, sig: fs.readFileSync(`${messageFile}.sig`, 'utf8') } };
}

const REASON = 'alice signs their actions (approverKeys.alice): this approve carries no signature; make one with canary sign approve';

it('shows a refusal thrown as messageRejected() as non-retryable MessageRejected with only the reason and no stack; a plain Error as retryable with worker paths', async () => {
  const styles: RefusalStyle[] = ['plain-error', 'non-retryable', 'message-rejected', 'untyped'];
  const gates = await Promise.all(styles.map((refuse) => startGate({ refuse })));
  const seen: Record<string, { cli: string; type?: string; nonRetryable?: boolean; stack: string }> = {};
  await Promise.all(
    styles.map(async (style, i) => {
      const h = gates[i]!;
      const before = await historyLength(h);
      const cli = await approveViaCli(h, { by: 'alice', step: 3 });
      expect(cli.code).toBe(1);
      const err = await h.executeUpdate('approve', { args: [{ by: 'alice', step: 3 }] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
      const cause = (err as WorkflowUpdateFailedError).cause as ApplicationFailure;
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect(cause.message).toMatch(new RegExp(`^${REASON.replace(/[()]/g, '\\$&')}`));
      seen[style] = {
        cli: cli.out.trim().replace(h.workflowId, 'ID'),
        type: cause.type ?? undefined,
        nonRetryable: cause.nonRetryable ?? undefined,
        stack: cause.failure?.stackTrace ?? '',
      };
      // a refused update writes nothing
      expect(await historyLength(h)).toEqual(before);
      await h.terminate('test done');
    }),
  );
  const cliText = (suffix: string) => `Error: unable to update workflow: ${REASON} ID --step 3 --key ~/.ssh/id_ed25519 --by alice${suffix}`;
  // Before issue 16: the validator threw a plain Error.
  expect(seen['plain-error']).toMatchObject({ cli: cliText(' (type: Error, retryable: true)'), type: 'Error', nonRetryable: false });
  expect(seen['plain-error']!.stack).toMatch(/at refusal \(.*test\/support\/signing-workflows\.ts:\d+:\d+\)/);
  // ApplicationFailure.nonRetryable: the right type and flag, but the stack (with worker paths) still goes along.
  expect(seen['non-retryable']).toMatchObject({ cli: cliText(' (type: MessageRejected, retryable: false)'), type: 'MessageRejected', nonRetryable: true });
  expect(seen['non-retryable']!.stack).toMatch(/signing-workflows\.ts/);
  // messageRejected(): the same, and no stack at all.
  expect(seen['message-rejected']).toEqual({
    cli: cliText(' (type: MessageRejected, retryable: false)'),
    type: 'MessageRejected',
    nonRetryable: true,
    stack: '',
  });
  // Without a type the CLI prints the bare reason, but no longer says it is not retryable.
  expect(seen.untyped).toEqual({ cli: cliText(''), type: undefined, nonRetryable: true, stack: '' });
});

it('accepts an approval signed with stock ssh-keygen through the temporal CLI, and refuses replayed, unsigned, wrongly signed, other-step and other-release ones without writing history', async () => {
  const h = await startGate({ until: 2 });
  const at = `${new Date().toISOString().slice(0, 19)}Z`;
  const signed = await sshKeygenSign(h, { step: 3, nonce: 'sshKeygenNonce1', at });
  const ok = await approveViaCli(h, signed);
  expect(ok.out).toContain('approved step 3 (signature verified)');
  expect(ok.code).toBe(0);
  const afterAccept = await historyLength(h);
  expect(afterAccept.accepted).toBe(1);

  const alice = readSigningKey(path.join(FIXTURES, 'alice_ed25519'));
  const mallory = readSigningKey(path.join(FIXTURES, 'mallory_ed25519'));
  const claims = { release: h.workflowId, run: h.firstExecutionRunId, step: 3 };
  const refusals: Array<[string, unknown, string]> = [
    ['the same signature again', signed, 'replayed: this signature (nonce sshKeygenNonce1) was already used in this release; sign again with a fresh nonce'],
    ['unsigned', { by: 'alice', step: 3 }, 'alice signs their actions (approverKeys.alice): this approve carries no signature'],
    ['signed by another key', signPayload(mallory, 'approve', { by: 'alice', step: 3 }, claims), "the signature does not verify with alice's key"],
    [
      'signed for another step',
      signPayload(alice, 'approve', { by: 'alice', step: 2 }, { ...claims, step: 2 }),
      'the signature is for step 2; the open gate is at step 3',
    ],
    [
      'signed for another release',
      signPayload(alice, 'approve', { by: 'alice', step: 3 }, { ...claims, release: 'release-payments' }),
      `the signature is for release release-payments, this is ${h.workflowId}`,
    ],
    [
      'signed for an earlier release of this workflow id',
      signPayload(alice, 'approve', { by: 'alice', step: 3 }, { ...claims, run: '0195aaaa-1234-7abc-8def-0123456789ab' }),
      `the signature is for another release of ${h.workflowId} (first run 0195aaaa-1234-7abc-8def-0123456789ab)`,
    ],
  ];
  for (const [what, payload, reason] of refusals) {
    const r = await approveViaCli(h, payload);
    expect({ what, code: r.code, refused: r.out.includes(reason) && r.out.trim().endsWith('(type: MessageRejected, retryable: false)') }).toEqual({
      what,
      code: 1,
      refused: true,
    });
  }
  expect(await historyLength(h)).toEqual(afterAccept);

  // What `canary sign` prints (a raw Ed25519 signature by Node's crypto) passes too; the gate then closes.
  const fresh = signPayload(alice, 'approve', { by: 'alice', step: 3 }, claims);
  const second = await approveViaCli(h, fresh);
  expect(second.code).toBe(0);
  const result = await h.result();
  expect(result.approvals).toEqual([
    { by: 'alice', verified: true, fingerprint: ALICE_FINGERPRINT },
    { by: 'alice', verified: true, fingerprint: ALICE_FINGERPRINT },
  ]);
  expect(result.used.map((u) => u.nonce)).toEqual(['sshKeygenNonce1', fresh.signature.nonce]);
});

it('runs the stock ssh-keygen recipe of docs/APPROVALS.md as written (describe, printf, ssh-keygen, jq, temporal) and the release accepts it', async () => {
  const h = await startGate({ until: 1 });
  const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'APPROVALS.md'), 'utf8');
  const recipe = /\*\*With stock `ssh-keygen`\*\*[\s\S]*?```bash\n([\s\S]*?)```/.exec(doc)?.[1];
  expect(recipe).toBeDefined();
  const firstLine = 'release=release-checkout step=3 by=alice key=~/.ssh/id_ed25519';
  expect(recipe!.split('\n')[0]).toBe(firstLine);
  const key = path.join(tmp, 'recipe_ed25519');
  fs.copyFileSync(path.join(FIXTURES, 'alice_ed25519'), key);
  fs.chmodSync(key, 0o600);
  const script = recipe!.replace(firstLine, `release=${h.workflowId} step=3 by=alice key=${key}`);
  const env = {
    ...process.env,
    TEMPORAL_ADDRESS: testStack.temporalAddress,
    TEMPORAL_CONFIG_FILE: path.join(tmp, 'no-such-config.toml'),
    PATH: `${path.dirname(temporalCli())}:${process.env.PATH ?? ''}`,
  };
  const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], { cwd: tmp, env, encoding: 'utf8', timeout: 90_000 });
  expect(stdout).toContain('approved step 3 (signature verified)');
  expect((await h.result()).approvals).toEqual([{ by: 'alice', verified: true, fingerprint: ALICE_FINGERPRINT }]);
});
