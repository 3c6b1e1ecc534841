/**
 * Signing on the approver's side: read an Ed25519 private key (OpenSSH or PKCS#8 PEM, unencrypted), sign an
 * approve / promote / abort / resume for a release with Node's crypto, and hand back the payload with its `signature`
 * object (common/messages.ts `Signature`). The workflow verifies it with common/signing.ts.
 *
 * - `canary sign approve|promote|abort|resume RELEASE --step N --key FILE [--by NAME]` prints the ready JSON payload to
 *   paste into the Temporal UI ("Send an Update") or `temporal workflow update execute --input`.
 * - `canary approve|promote|abort|resume ... --sign-with FILE` signs the payload it sends ({@link signedPayload}).
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { AbortInput, ApproveInput, PromoteInput, ResumeInput, payloadProblem, releaseWorkflowId, type Signature } from '../common/messages';
import {
  DEFAULT_SIGNATURE_MAX_AGE_MS,
  canonicalMessage,
  formatSshPublicKey,
  parsePublicKey,
  signedFields,
  type SignatureClaims,
  type SignedVerb,
} from '../common/signing';
import { connect, resolveConnection, type ConnectionFlags } from './connection';
import { queryStatus, releaseHandle } from './release-client';

/** A signing problem the user can fix (a key file that cannot be used, a release that cannot be found). Exit 2. */
export class SigningError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'SigningError';
  }
}

/** An Ed25519 signing key read from a file. */
export interface SigningKey {
  /** The file it came from, as given. */
  file: string;
  /** The 32-byte public key. */
  publicKey: Uint8Array;
  /** `SHA256:...`, as `ssh-keygen -l` prints it and as the workflow reports which key verified. */
  fingerprint: string;
  /** `ssh-ed25519 AAAA... comment`: the line to put in the spec's approverKeys. */
  sshPublicKey: string;
  /** Node's key object (never printed, never sent). */
  privateKey: crypto.KeyObject;
}

const OPENSSH_MAGIC = 'openssh-key-v1\0';
const ENCRYPTED_HINT =
  'load it into ssh-agent and sign with stock ssh-keygen (ssh-keygen -Y sign -n canary -f KEY.pub message.txt; docs/APPROVALS.md shows the message), ' +
  'or use an unencrypted key kept for signing approvals';

/** Reads SSH wire data: uint32 big-endian lengths, then bytes. */
function reader(bytes: Buffer) {
  let o = 0;
  const take = (n: number): Buffer => {
    if (o + n > bytes.length) throw new SigningError('the private key file is truncated or damaged');
    const out = bytes.subarray(o, o + n);
    o += n;
    return out;
  };
  const uint32 = (): number => take(4).readUInt32BE(0);
  const string = (): Buffer => take(uint32());
  return { take, uint32, string, text: () => string().toString('latin1') };
}

/**
 * Parses an OpenSSH private key file (`-----BEGIN OPENSSH PRIVATE KEY-----`, `ssh-keygen -t ed25519`) or a PKCS#8
 * PEM Ed25519 key (`openssl genpkey -algorithm ed25519`). Refuses encrypted and non-Ed25519 keys with what to do.
 */
export function parsePrivateKey(text: string, file = 'the key file'): SigningKey {
  const open = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
  if (!open) {
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text)) throw new SigningError(`${file} is encrypted (a passphrase protects it): ${ENCRYPTED_HINT}`);
    if (/-----BEGIN PRIVATE KEY-----/.test(text)) {
      let key: crypto.KeyObject;
      try {
        key = crypto.createPrivateKey(text);
      } catch (e) {
        throw new SigningError(`${file} is not a readable private key: ${(e as Error).message}`);
      }
      if (key.asymmetricKeyType !== 'ed25519') throw new SigningError(`${file} is a ${key.asymmetricKeyType} key; approvals are signed with Ed25519 keys`);
      const jwk = crypto.createPublicKey(key).export({ format: 'jwk' });
      return withKey(file, Buffer.from(jwk.x as string, 'base64url'), key, '');
    }
    if (/^\s*ssh-ed25519 /.test(text)) throw new SigningError(`${file} is a public key; give the private key (the same path without .pub)`);
    throw new SigningError(`${file} is not an Ed25519 private key (expected -----BEGIN OPENSSH PRIVATE KEY-----, as ssh-keygen -t ed25519 writes)`);
  }
  const blob = Buffer.from(open[1]!.replace(/\s+/g, ''), 'base64');
  if (blob.subarray(0, OPENSSH_MAGIC.length).toString('latin1') !== OPENSSH_MAGIC) throw new SigningError(`${file} is not an OpenSSH private key`);
  const r = reader(blob.subarray(OPENSSH_MAGIC.length));
  const cipher = r.text();
  r.text(); // kdf name
  r.string(); // kdf options
  if (cipher !== 'none') throw new SigningError(`${file} is encrypted (cipher ${cipher}): ${ENCRYPTED_HINT}`);
  const count = r.uint32();
  if (count !== 1) throw new SigningError(`${file} holds ${count} keys; give a file with one ed25519 key`);
  r.string(); // public key blob, repeated in the private section
  const priv = reader(r.string());
  if (priv.uint32() !== priv.uint32()) throw new SigningError(`${file} is damaged (its check bytes differ)`);
  const type = priv.text();
  if (type !== 'ssh-ed25519') throw new SigningError(`${file} is a ${type} key; approvals are signed with ssh-ed25519 keys (ssh-keygen -t ed25519)`);
  const publicKey = priv.string();
  const secret = priv.string();
  const comment = priv.text();
  if (publicKey.length !== 32 || secret.length !== 64 || !secret.subarray(32).equals(publicKey)) throw new SigningError(`${file} is a damaged ed25519 key`);
  const key = crypto.createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', d: secret.subarray(0, 32).toString('base64url'), x: publicKey.toString('base64url') },
    format: 'jwk',
  });
  return withKey(file, publicKey, key, comment);
}

function withKey(file: string, publicKey: Buffer, privateKey: crypto.KeyObject, comment: string): SigningKey {
  const bytes = Uint8Array.from(publicKey);
  const sshPublicKey = formatSshPublicKey(bytes, comment || undefined);
  return { file, publicKey: bytes, fingerprint: parsePublicKey(sshPublicKey).fingerprint, sshPublicKey, privateKey };
}

/** Reads a key file (`~` expanded); a missing or unreadable file is a {@link SigningError}. */
export function readSigningKey(file: string): SigningKey {
  const resolved = file.startsWith('~/') ? `${os.homedir()}${file.slice(1)}` : file;
  let text: string;
  try {
    text = fs.readFileSync(resolved, 'utf8');
  } catch (e) {
    throw new SigningError(`cannot read the key ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parsePrivateKey(text, file);
}

/** A fresh nonce: 16 random bytes, base64url (22 characters). */
export function newNonce(): string {
  return crypto.randomBytes(16).toString('base64url');
}

/** `2026-11-30T07:30:00Z` (whole seconds: what people type when they sign by hand, too). */
export function signatureTime(now: Date = new Date()): string {
  return `${now.toISOString().slice(0, 19)}Z`;
}

/** The payload fields of a signed verb, as the workflow parses them (common/messages.ts). */
export type SignablePayload = { by: string; comment?: string; reason?: string; step?: number; full?: boolean };

/**
 * Signs `payload` for `verb` with `key` and returns it with its `signature` (raw Ed25519, base64). `claims` names
 * the release, its first run and the step; nonce and time are made fresh unless given (tests).
 */
export function signPayload<P extends SignablePayload>(
  key: SigningKey,
  verb: SignedVerb,
  payload: P,
  claims: Pick<SignatureClaims, 'release' | 'run' | 'step'> & Partial<Pick<SignatureClaims, 'nonce' | 'at'>>,
): P & { signature: Signature } {
  const full: SignatureClaims = {
    nonce: claims.nonce ?? newNonce(),
    at: claims.at ?? signatureTime(),
    release: claims.release,
    run: claims.run,
    step: claims.step,
  };
  const { signature: _old, ...rest } = payload as P & { signature?: unknown };
  const message = canonicalMessage(signedFields(verb, rest), full);
  const sig = crypto.sign(null, Buffer.from(message, 'utf8'), key.privateKey).toString('base64');
  return { ...(rest as P), signature: { ...full, sig } };
}

/** What a signer needs to know about a live release: its first run id and the step an action applies to now. */
export interface ReleaseTarget {
  workflowId: string;
  /** The first run id (describe's firstRunId), which the workflow compares with workflowInfo().firstExecutionRunId. */
  run: string;
  /** approve: the open gate's step (else the current step); promote / abort / resume: the current step. */
  step: number;
}

/**
 * Looks up a release's first run id (describe) and, unless `step` is given, the step from the status query.
 * The first run id stays the same when the release continues as new, so a signature made now keeps verifying.
 */
export async function releaseTarget(client: Client, release: string, verb: SignedVerb, step?: number): Promise<ReleaseTarget> {
  const workflowId = release.startsWith('release-') ? release : releaseWorkflowId(release);
  const handle = client.workflow.getHandle(workflowId);
  let run: string;
  try {
    const d = await handle.describe();
    // Servers before 1.24 do not report firstRunId; a run that never continued as new is its own first run.
    run = d.raw.workflowExecutionInfo?.firstRunId || d.runId;
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) throw new SigningError(`no release ${workflowId} to sign for (canary list shows the releases)`);
    throw e;
  }
  if (step !== undefined) return { workflowId, run, step };
  const status = await queryStatus(releaseHandle(client, workflowId));
  return { workflowId, run, step: verb === 'approve' ? (status.gate?.step ?? status.step) : status.step };
}

const SCHEMAS = { approve: ApproveInput, promote: PromoteInput, abort: AbortInput, resume: ResumeInput } as const;

/**
 * The `--sign-with FILE` handler of `canary approve|promote|abort|resume`: returns `payload` with a signature by the key
 * in `keyFile`, for the release's first run and the step the action applies to (looked up through `client` unless
 * `run` / `step` are given; for approve, `payload.step` is used when present). Throws {@link SigningError} for a
 * key it cannot use or a payload the workflow would refuse anyway.
 */
export async function signedPayload<P extends SignablePayload>(opts: {
  client?: Client;
  release: string;
  verb: SignedVerb;
  payload: P;
  keyFile: string;
  run?: string;
  step?: number;
}): Promise<P & { signature: Signature }> {
  const key = readSigningKey(opts.keyFile);
  const step = opts.step ?? (opts.verb === 'approve' ? opts.payload.step : undefined);
  let target: ReleaseTarget;
  if (opts.run !== undefined && step !== undefined) {
    target = { workflowId: opts.release.startsWith('release-') ? opts.release : releaseWorkflowId(opts.release), run: opts.run, step };
  } else {
    if (!opts.client) throw new SigningError('to sign without a connection to Temporal, give both --run (the first run id) and --step');
    target = await releaseTarget(opts.client, opts.release, opts.verb, step);
    if (opts.run !== undefined) target.run = opts.run;
  }
  const payload = opts.verb === 'approve' && opts.payload.step === undefined ? { ...opts.payload, step: target.step } : opts.payload;
  const signed = signPayload(key, opts.verb, payload, { release: target.workflowId, run: target.run, step: target.step });
  const parsed = SCHEMAS[opts.verb].safeParse(signed);
  if (!parsed.success) throw new SigningError(`the ${opts.verb} payload is invalid: ${payloadProblem(parsed.error)}`);
  return signed;
}

/** `--sign-with FILE` for approve / promote / abort / resume (the option the action commands add). */
export function signWithOption(): Option {
  return new Option('--sign-with <file>', 'sign the action with this Ed25519 private key (OpenSSH, unencrypted); required when you have a key in the spec');
}

function stepArg(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('--step must be a whole number >= 0');
  return n;
}

interface SignOpts {
  key: string;
  step?: number;
  run?: string;
  by?: string;
  comment?: string;
  reason?: string;
  full?: boolean;
}

/**
 * `canary sign approve|promote|abort|resume <release> --key FILE [--step N] [--by NAME] [--run RUN]`: prints the signed
 * JSON payload on stdout (one line) and, on stderr, which key signed it, until when it is valid, and how to send
 * it. With --run and --step it works offline (no Temporal connection). `done` receives the exit code (0, or 2 for
 * a {@link SigningError}, whose message goes to stderr); other errors propagate to the CLI.
 */
export function signCommand(done: (code: number) => void = (code) => void (process.exitCode = code)): Command {
  const sign = new Command('sign').description(
    'sign an approve / promote / abort / resume with your Ed25519 key and print the JSON payload for the Temporal UI or the temporal CLI',
  );
  const verbs: { verb: SignedVerb; describe: string; extra: (c: Command) => Command }[] = [
    { verb: 'approve', describe: 'sign an approval of the gate at --step (default: the open gate)', extra: (c) => c.option('--comment <text>', 'why') },
    {
      verb: 'promote',
      describe: 'sign a promotion (ends the current pause or gate; --full skips every remaining step)',
      extra: (c) => c.option('--full', 'skip the remaining steps and analysis').option('--comment <text>', 'why'),
    },
    { verb: 'abort', describe: 'sign an abort (rollback)', extra: (c) => c.requiredOption('--reason <text>', 'why') },
    { verb: 'resume', describe: 'sign a resume (ends a pause or an inconclusive analysis gate)', extra: (c) => c.option('--comment <text>', 'why') },
  ];
  for (const { verb, describe, extra } of verbs) {
    extra(
      sign
        .command(verb)
        .description(describe)
        .argument('<release>', 'release id (release-SERVICE) or service name')
        .requiredOption('--key <file>', 'your Ed25519 private key (OpenSSH format, unencrypted), e.g. ~/.ssh/id_ed25519')
        .option('--step <n>', 'the 0-based step (default: the open gate for approve, the current step otherwise; read from the release)', stepArg)
        .option('--run <id>', "the release's first run id (default: read from Temporal; with --step, no connection is needed)")
        .option('--by <name>', 'who you are: the name your key has in approverKeys (default: $CANARY_USER, else $USER)'),
    ).action(async (release: string, o: SignOpts, cmd: Command) => {
      const by = o.by?.trim() || process.env.CANARY_USER?.trim() || process.env.USER?.trim();
      const write = (text: string): void => void process.stderr.write(`${text}\n`);
      if (!by) {
        write('say who you are: --by NAME, or set CANARY_USER');
        return done(2);
      }
      const payload: SignablePayload = { by };
      if (verb === 'abort') payload.reason = o.reason;
      else if (o.comment !== undefined) payload.comment = o.comment;
      if (verb === 'promote') payload.full = !!o.full;
      if (verb === 'approve' && o.step !== undefined) payload.step = o.step;
      let session: Awaited<ReturnType<typeof connect>> | undefined;
      try {
        if (o.run === undefined || o.step === undefined) session = await connect(resolveConnection(cmd.optsWithGlobals<ConnectionFlags>()));
        const signed = await signedPayload({ client: session?.client, release, verb, payload, keyFile: o.key, run: o.run, step: o.step });
        const text = JSON.stringify(signed);
        process.stdout.write(`${text}\n`);
        const s = signed.signature;
        const until = signatureTime(new Date(Date.parse(s.at) + DEFAULT_SIGNATURE_MAX_AGE_MS));
        const key = readSigningKey(o.key);
        write(`signed ${verb} of ${s.release} (first run ${s.run}) at step ${s.step} by ${by} with ${key.fingerprint}`);
        write(`valid once, until ${until} (unless the spec's signatureMaxAge says otherwise). Send it with:`);
        write(`  Temporal UI: the release → Send an Update → ${verb}, and paste the line above as the data`);
        write(`  temporal workflow update execute --workflow-id ${s.release} --name ${verb} --input '${text.replace(/'/g, "'\\''")}'`);
        return done(0);
      } catch (e) {
        if (e instanceof SigningError) {
          write(e.message);
          return done(e.exitCode);
        }
        throw e;
      } finally {
        await session?.connection.close().catch(() => undefined);
      }
    });
  }
  return sign;
}
