/**
 * Signed approvals and readable refusals on the real release workflow, seen from the sending side with no project
 * code: the stock `temporal` CLI sends updates and signals to a release started with approverKeys on the local stack
 * and stopped at an approval gate. One release: a signed resume, then refused attempts (replayed, unsigned, wrong
 * key, other step, other release, self-approval) that must leave its history exactly as it was, then an approval
 * signed with stock `ssh-keygen` by the recipe of docs/APPROVALS.md that passes the gate.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { readRecordedMessages, withCallers } from '../../client/callers';
import { connect, resolveConnection } from '../../client/connection';
import { actions, startRelease } from '../../client/release-client';
import { readSigningKey, signedPayload, signPayload } from '../../client/signing';
import { statusQuery } from '../../common/messages';
import { parsePublicKey } from '../../common/signing';
import { temporalCli } from '../../dev/paths';
import { testStack } from '../support/env';
import { historyOf, releaseTestEnvironment, seedService, testSpec, waitForStatus } from '../support/release-fixture';

const env = releaseTestEnvironment();
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'signing');
const pub = (name: string): string => fs.readFileSync(path.join(FIXTURES, `${name}_ed25519.pub`), 'utf8').trim();
const ALICE_FINGERPRINT = parsePublicKey(pub('alice')).fingerprint;
const REFUSED = '(type: MessageRejected, retryable: false)';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'canary-signing-'));
});
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** The environment of the stock tools: the test server, and no user's Temporal profile. */
const toolEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  TEMPORAL_ADDRESS: testStack.temporalAddress,
  TEMPORAL_CONFIG_FILE: path.join(tmp, 'no-such-config.toml'),
  PATH: `${path.dirname(temporalCli())}:${process.env.PATH ?? ''}`,
});

/** The `temporal` CLI, asynchronously (the worker answering runs in this process). */
async function temporal(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(temporalCli(), args, { encoding: 'utf8', timeout: 90_000, env: toolEnv() });
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, out: (err.stdout ?? '') + (err.stderr ?? '') };
  }
}

const update = (h: WorkflowHandle, verb: string, payload: unknown) =>
  temporal(['workflow', 'update', 'execute', '--workflow-id', h.workflowId, '--name', verb, '--input', JSON.stringify(payload)]);
const signal = (h: WorkflowHandle, verb: string, payload: unknown) =>
  temporal(['workflow', 'signal', '--workflow-id', h.workflowId, '--name', verb, '--input', JSON.stringify(payload)]);

it('passes a release approval gate with a signed approval sent by the temporal CLI; refuses replayed, unsigned, wrong-key, other-step, other-release and self-approvals non-retryably, with the history unchanged', async () => {
  const { service, seeded } = await seedService(env.aws, 'sign');
  // mallory ships the release and has a key, so her own (correctly signed) approval is a self-approval.
  const spec = testSpec(seeded, service, {
    initiator: 'mallory',
    approverKeys: { alice: pub('alice'), mallory: pub('mallory') },
    steps: [{ setWeight: 10 }, { approval: { approvers: ['alice', 'mallory'], timeout: '10m' } }, { setWeight: 100 }],
  });
  const h = await startRelease(env.client, spec, { taskQueue: env.taskQueue });
  const gate = await waitForStatus(h, (s) => s.phase === 'AwaitingApproval');
  expect(gate.gate).toMatchObject({ kind: 'approval', step: 1 });
  const run = (await h.describe()).raw.workflowExecutionInfo?.firstRunId ?? '';
  expect(run).not.toBe('');
  const alice = path.join(FIXTURES, 'alice_ed25519');
  const mallory = path.join(FIXTURES, 'mallory_ed25519');
  const claims = { release: h.workflowId, run, step: 1 };

  // A signed resume (made by the helper `canary sign resume` uses), between two pauses: its signature is then replayed.
  // carol pauses with canary's own client (its requests carry the identity canary:USER@HOST).
  const canary = await connect(resolveConnection({ address: testStack.temporalAddress }, { TEMPORAL_CONFIG_FILE: path.join(tmp, 'none.toml') }));
  try {
    await actions.pause(canary.client, h.workflowId, { by: 'carol', reason: 'look at the dashboards' });
  } finally {
    await canary.connection.close();
  }
  const resume = await signedPayload({ client: env.client, release: h.workflowId, verb: 'resume', payload: { by: 'alice' }, keyFile: alice });
  const resumed = await update(h, 'resume', resume);
  expect(resumed.out).toContain('resumed (signature verified)');
  expect(resumed.code).toBe(0);
  expect(await update(h, 'pause', { by: 'carol', reason: 'once more' })).toMatchObject({ code: 0 });

  const before = await historyOf(env.client, h.workflowId);
  const refusals: Array<[string, string, unknown, string]> = [
    ['the same signature again', 'resume', resume, `replayed: this signature (nonce ${resume.signature.nonce}) was already used in this release`],
    ['unsigned', 'approve', { by: 'alice', step: 1 }, 'alice signs their actions (approverKeys.alice): this approve carries no signature'],
    [
      'signed with another key',
      'approve',
      signPayload(readSigningKey(mallory), 'approve', { by: 'alice', step: 1 }, claims),
      "the signature does not verify with alice's key",
    ],
    [
      'signed for another step',
      'approve',
      signPayload(readSigningKey(alice), 'approve', { by: 'alice' }, { ...claims, step: 0 }),
      'the signature is for step 0; the open gate is at step 1',
    ],
    [
      'signed for another release',
      'approve',
      signPayload(readSigningKey(alice), 'approve', { by: 'alice', step: 1 }, { ...claims, release: 'release-payments' }),
      `the signature is for release release-payments, this is ${h.workflowId}`,
    ],
    [
      'signed by the person who started it',
      'approve',
      await signedPayload({ client: env.client, release: h.workflowId, verb: 'approve', payload: { by: 'mallory' }, keyFile: mallory }),
      'mallory started this release and cannot approve it (allowSelfApproval is off)',
    ],
  ];
  for (const [what, verb, payload, reason] of refusals) {
    const r = await update(h, verb, payload);
    // Only the reason, as a non-retryable MessageRejected: no stack trace, no worker file paths.
    expect({ what, code: r.code, out: r.out.trim() }).toEqual({ what, code: 1, out: expect.stringMatching(/^Error: unable to update workflow: /) as unknown });
    expect({ what, reason: r.out.includes(reason), type: r.out.trim().endsWith(REFUSED), paths: /\.ts:\d+|\bat \w+ \(/.test(r.out) }).toEqual({
      what,
      reason: true,
      type: true,
      paths: false,
    });
  }
  // What an SDK client (and the UI, which shows the failure the server hands back) receives: the same, with no stack.
  const viaSdk = await h.executeUpdate('approve', { args: [refusals[2]![2]] }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(viaSdk).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (viaSdk as WorkflowUpdateFailedError).cause as ApplicationFailure;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect({ type: cause.type, nonRetryable: cause.nonRetryable, stack: cause.failure?.stackTrace ?? '' }).toEqual({
    type: 'MessageRejected',
    nonRetryable: true,
    stack: '',
  });
  expect(cause.message).toMatch(/^the signature does not verify with alice's key \(SHA256:/);
  // Nothing of it reached the release: the same events, the same types.
  expect(await historyOf(env.client, h.workflowId)).toEqual(before);

  // A forged signal cannot be refused before history (signals are always written), but the release ignores it.
  expect(await signal(h, 'approve', refusals[2]![2])).toMatchObject({ code: 0 });
  const ignored = await waitForStatus(h, (s) => s.timeline.some((e) => e.action === 'approve' && !e.accepted));
  expect(ignored.timeline.filter((e) => e.action === 'approve')).toEqual([
    expect.objectContaining({
      by: 'alice',
      accepted: false,
      detail: expect.stringMatching(/^ignored: the signature does not verify with alice's key/) as unknown,
    }),
  ]);
  expect(ignored.gate).toMatchObject({ kind: 'approval', step: 1 });

  // The recipe of docs/APPROVALS.md as written (describe, printf, ssh-keygen -Y sign, jq, temporal): the gate passes.
  const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'APPROVALS.md'), 'utf8');
  const recipe = /\*\*With stock `ssh-keygen`\*\*[\s\S]*?```bash\n([\s\S]*?)```/.exec(doc)?.[1];
  const firstLine = 'release=release-checkout step=3 by=alice key=~/.ssh/id_ed25519';
  expect(recipe?.split('\n')[0]).toBe(firstLine);
  const key = path.join(tmp, 'alice_ed25519');
  fs.copyFileSync(alice, key);
  fs.chmodSync(key, 0o600); // ssh-keygen refuses a private key others can read
  const script = recipe!.replace(firstLine, `release=${h.workflowId} step=1 by=alice key=${key}`);
  const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], { cwd: tmp, env: toolEnv(), encoding: 'utf8', timeout: 90_000 });
  expect(stdout).toContain('approved step 1 (signature verified)');

  // Still paused by carol: a fresh signed resume lets the release go on to 100%.
  const again = await signedPayload({ client: env.client, release: h.workflowId, verb: 'resume', payload: { by: 'alice' }, keyFile: alice });
  expect(await update(h, 'resume', again)).toMatchObject({ code: 0 });
  expect((await h.result()).outcome).toBe('promoted');
  const status = await h.query(statusQuery);
  expect(status.timeline.filter((e) => e.action === 'approve' || e.action === 'resume')).toEqual([
    expect.objectContaining({ by: 'alice', action: 'resume', accepted: true, signed: { key: ALICE_FINGERPRINT } }),
    expect.objectContaining({ by: 'alice', action: 'approve', accepted: false }),
    expect.objectContaining({ by: 'alice', action: 'approve', accepted: true, detail: 'step 1', signed: { key: ALICE_FINGERPRINT } }),
    expect.objectContaining({ by: 'alice', action: 'resume', accepted: true, signed: { key: ALICE_FINGERPRINT } }),
  ]);

  // Who sent what, as the history recorded each request's client identity (the workflow is never told).
  const timeline = withCallers(status.timeline, await readRecordedMessages(env.client, h.workflowId));
  const senders = timeline.filter((e) => e.callerIdentity !== undefined).map((e) => [e.by, e.action, e.accepted, e.callerIdentity]);
  process.stdout.write(`[identities] ${JSON.stringify(senders)}\n`);
  const cli = expect.stringMatching(/^temporal-cli:\S+@\S+$/) as unknown;
  expect(senders).toEqual([
    ['mallory', 'start', true, expect.any(String)],
    ['carol', 'pause', true, expect.stringMatching(/^canary:\S+@\S+$/)],
    ['alice', 'resume', true, cli],
    ['carol', 'pause', true, cli],
    ['alice', 'approve', false, cli], // the forged signal
    ['alice', 'approve', true, cli],
    ['alice', 'resume', true, cli],
  ]);
});
