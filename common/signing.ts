/**
 * Signed actions: an approver with a key in the spec (`approverKeys`) proves each approve / promote / abort / resume with an
 * Ed25519 signature over a canonical message naming the release, the step, the verb and a fresh nonce + time. The
 * workflow checks it here, deterministically: pure JS (@noble/curves, @noble/hashes), no Node built-ins, no I/O,
 * no clock of its own (the caller passes workflow time), so it runs in the Temporal workflow sandbox and replays.
 *
 * Keys (one string each, see {@link parsePublicKey}):
 * - an OpenSSH public key line, `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA... alice@laptop` (the kind people sign git
 *   commits with; the comment is ignored);
 * - a raw 32-byte Ed25519 public key as 64 hex digits or as base64 / base64url (44 or 43 characters), optionally
 *   prefixed `ed25519:`.
 *
 * Signatures (`signature.sig`, see {@link verifySignedAction}):
 * - raw: the 64-byte Ed25519 signature of the canonical message's UTF-8 bytes, base64 (what `canary sign` prints);
 * - SSHSIG: the armored output of `ssh-keygen -Y sign -n canary -f ~/.ssh/id_ed25519 message.txt`
 *   (`-----BEGIN SSH SIGNATURE-----` ...; the armor lines and whitespace may be dropped), namespace `canary`.
 */
import { ed25519 } from '@noble/curves/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2';
import type { SignableVerb } from './messages';

/** The SSHSIG namespace signatures must carry (`ssh-keygen -Y sign -n canary`): a git commit signature is not an approval. */
export const SIGNATURE_NAMESPACE = 'canary';
/** First line of every canonical message; a new message format gets a new line, so old signatures never verify under it. */
export const MESSAGE_HEADER = 'canary-signed-action-v1';
/** How far in the future a signature's `at` may lie (the signer's clock runs ahead of the server's). */
export const MAX_FUTURE_SKEW_MS = 2 * 60_000;
/** Default validity of a signature after its `at` (spec `signatureMaxAge`). */
export const DEFAULT_SIGNATURE_MAX_AGE_MS = 10 * 60_000;
/**
 * Most signatures a release remembers at once (each only until it expires). Only a valid signature is remembered,
 * so reaching this takes a key holder signing that many actions within one max age; the release then refuses
 * further signed actions until some expire (fail closed) rather than forget one that could be replayed.
 */
export const MAX_REMEMBERED_SIGNATURES = 500;

/**
 * The verbs that can be signed: those whose payload has a `signature` (common/messages.ts VERBS, where each verb
 * also says whether signed mode requires it).
 */
export type SignedVerb = SignableVerb;

// ---------------------------------------------------------------- bytes

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX: Record<string, number> = {};
for (let i = 0; i < 64; i++) B64_INDEX[B64[i]!] = i;
B64_INDEX['-'] = 62;
B64_INDEX['_'] = 63;

/** base64 or base64url, padding optional; undefined when it is neither (the sandbox has no Buffer, and atob is not promised). */
export function decodeBase64(text: string): Uint8Array | undefined {
  const s = text.replace(/=+$/, '');
  if (s.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (const ch of s) {
    const v = B64_INDEX[ch];
    if (v === undefined) return undefined;
    value = (value << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

/** Standard base64 with padding (what ssh-keygen and `canary sign` print). */
export function encodeBase64(bytes: Uint8Array, padding = true): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const b0 = bytes[i]!;
    const b1 = bytes[i + 1];
    const b2 = bytes[i + 2];
    out += B64[b0 >> 2]!;
    out += B64[((b0 & 3) << 4) | ((b1 ?? 0) >> 4)]!;
    out += b1 === undefined ? (padding ? '=' : '') : B64[((b1 & 15) << 2) | ((b2 ?? 0) >> 6)]!;
    out += b2 === undefined ? (padding ? '=' : '') : B64[b2 & 63]!;
  }
  return out;
}

/** UTF-8 bytes of a string (written out: the canonical message must not depend on what the sandbox injects). */
export function utf8(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** An SSH wire `string`: uint32 big-endian length, then the bytes. */
function sshString(bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  return concat(Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff), bytes);
}

/** Reads SSH wire data (RFC 4251 strings and uint32s); every read throws on truncated input. */
class WireReader {
  private o = 0;
  constructor(private readonly bytes: Uint8Array) {}
  uint32(): number {
    if (this.o + 4 > this.bytes.length) throw new Error('truncated');
    const b = this.bytes;
    const v = ((b[this.o]! << 24) >>> 0) + (b[this.o + 1]! << 16) + (b[this.o + 2]! << 8) + b[this.o + 3]!;
    this.o += 4;
    return v;
  }
  string(): Uint8Array {
    const n = this.uint32();
    if (this.o + n > this.bytes.length) throw new Error('truncated');
    const s = this.bytes.subarray(this.o, this.o + n);
    this.o += n;
    return s;
  }
  text(): string {
    return String.fromCharCode(...this.string());
  }
  raw(n: number): Uint8Array {
    if (this.o + n > this.bytes.length) throw new Error('truncated');
    const s = this.bytes.subarray(this.o, this.o + n);
    this.o += n;
    return s;
  }
  get done(): boolean {
    return this.o === this.bytes.length;
  }
}

// ---------------------------------------------------------------- keys

/** An approver's Ed25519 public key, whichever way it was written. */
export interface PublicKey {
  /** The 32-byte Ed25519 public key. */
  bytes: Uint8Array;
  /** `SHA256:...` as `ssh-keygen -l` prints it (the same for the ssh-ed25519 and the raw form of one key). */
  fingerprint: string;
}

const SSH_ED25519 = 'ssh-ed25519';

/** The SSH wire encoding of an Ed25519 public key (what an `ssh-ed25519 AAAA...` line base64-encodes). */
export function sshPublicKeyBlob(key: Uint8Array): Uint8Array {
  return concat(sshString(utf8(SSH_ED25519)), sshString(key));
}

/** `ssh-ed25519 AAAA...` for a 32-byte key (what `canary sign` prints so a spec can carry it). */
export function formatSshPublicKey(key: Uint8Array, comment?: string): string {
  return `${SSH_ED25519} ${encodeBase64(sshPublicKeyBlob(key))}${comment ? ` ${comment}` : ''}`;
}

function fingerprintOf(key: Uint8Array): string {
  return `SHA256:${encodeBase64(sha256(sshPublicKeyBlob(key)), false)}`;
}

function checkedKey(bytes: Uint8Array): PublicKey {
  try {
    ed25519.Point.fromHex(bytes);
  } catch {
    throw new KeyFormatError('not a valid Ed25519 public key (the 32 bytes are not a curve point)');
  }
  return { bytes, fingerprint: fingerprintOf(bytes) };
}

/** Why a key string cannot be used; the message is meant for `approverKeys.bob: <message>`. */
export class KeyFormatError extends Error {
  override name = 'KeyFormatError';
}

/**
 * Parses one approver key: `ssh-ed25519 AAAA... [comment]`, or a raw Ed25519 key as 64 hex digits or base64
 * (optionally prefixed `ed25519:`). Throws {@link KeyFormatError} saying what is wrong.
 */
export function parsePublicKey(text: string): PublicKey {
  const trimmed = text.trim();
  const parts = trimmed.split(/\s+/);
  const first = parts[0] ?? '';
  if (first.startsWith('ssh-') || first.startsWith('ecdsa-') || first.startsWith('sk-')) {
    if (first !== SSH_ED25519) throw new KeyFormatError(`only ssh-ed25519 keys can sign approvals (this is ${first}); make one with ssh-keygen -t ed25519`);
    const blob = decodeBase64(parts[1] ?? '');
    if (!blob) throw new KeyFormatError('the ssh-ed25519 key is not base64 after "ssh-ed25519 "');
    try {
      const r = new WireReader(blob);
      const type = r.text();
      const key = r.string();
      if (type !== SSH_ED25519 || key.length !== 32 || !r.done) throw new Error('shape');
      return checkedKey(Uint8Array.from(key));
    } catch (err) {
      if (err instanceof KeyFormatError) throw err;
      throw new KeyFormatError('the ssh-ed25519 key is damaged (its base64 does not hold an ssh-ed25519 key); copy the whole line of the .pub file');
    }
  }
  const raw = first.replace(/^ed25519:/, '');
  if (parts.length === 1 && /^[0-9a-fA-F]{64}$/.test(raw)) {
    return checkedKey(Uint8Array.from(raw.match(/../g)!.map((h) => parseInt(h, 16))));
  }
  const bytes = parts.length === 1 && raw.length >= 43 && raw.length <= 44 ? decodeBase64(raw) : undefined;
  if (bytes?.length === 32) return checkedKey(bytes);
  throw new KeyFormatError(
    'not an Ed25519 public key: give an OpenSSH line (ssh-ed25519 AAAA... comment, from ~/.ssh/id_ed25519.pub) or 32 raw bytes as 64 hex digits or base64',
  );
}

/** Why a key string is unusable, or undefined when it is fine (for schemas). */
export function publicKeyProblem(text: string): string | undefined {
  try {
    parsePublicKey(text);
    return undefined;
  } catch (err) {
    return err instanceof KeyFormatError ? err.message : String(err);
  }
}

// ---------------------------------------------------------------- the canonical message

/** What a signature says, besides the signature bytes: the payload's `signature` object minus `sig`. */
export interface SignatureClaims {
  /** The workflow id, e.g. `release-checkout`. */
  release: string;
  /**
   * The run id of the release's first run (`workflowInfo().firstExecutionRunId`; `firstRunId` in describe): the
   * workflow id is reused by every release of a service, the first run id names this one, and it stays the same
   * when the release continues as new.
   */
  run: string;
  /** The 0-based step index the action is for (approve: the gate's step; promote / abort / resume: the step the release is at). */
  step: number;
  /** Fresh and random per signature (8-64 of A-Z a-z 0-9 _ -); a release accepts each nonce once. */
  nonce: string;
  /** When it was signed, ISO 8601 UTC (`2026-11-30T07:30:00Z`); valid from at - 2m to at + signatureMaxAge. */
  at: string;
}

/** The payload fields a signature covers besides its claims. */
export interface SignedFields {
  verb: SignedVerb;
  by: string;
  /** promote only: true for a full promotion (always part of a promote's message, default false). */
  full?: boolean;
  /** The approve / promote / resume comment or the abort reason, when the payload has one. */
  note?: string;
}

/**
 * The exact text that is signed, UTF-8, one `key value` per line, each line ending in `\n`:
 *
 * ```
 * canary-signed-action-v1
 * release release-checkout
 * run 0195c0de-1234-7abc-8def-0123456789ab
 * verb approve
 * step 3
 * by alice
 * note "dashboards look fine"          (only when the payload has a comment / reason; a JSON string)
 * nonce k3J9aQ2xVb7LwP0c
 * at 2026-11-30T07:30:00Z
 * ```
 *
 * A promote has `full true` or `full false` after `by`. Every field a person could want to change after signing
 * is in it, so a signature for another release, run, step, verb, signer, text or moment does not verify.
 */
export function canonicalMessage(fields: SignedFields, claims: SignatureClaims): string {
  const lines = [MESSAGE_HEADER, `release ${claims.release}`, `run ${claims.run}`, `verb ${fields.verb}`, `step ${claims.step}`, `by ${fields.by}`];
  if (fields.verb === 'promote') lines.push(`full ${fields.full === true}`);
  if (fields.note !== undefined) lines.push(`note ${JSON.stringify(fields.note)}`);
  lines.push(`nonce ${claims.nonce}`, `at ${claims.at}`);
  return lines.map((l) => `${l}\n`).join('');
}

/** The signed fields of a verb's payload (`comment` of approve / promote / resume, `reason` of abort). */
export function signedFields(verb: SignedVerb, payload: { by: string; comment?: string; reason?: string; full?: boolean }): SignedFields {
  const note = verb === 'abort' ? payload.reason : payload.comment;
  return { verb, by: payload.by, ...(verb === 'promote' ? { full: payload.full === true } : {}), ...(note !== undefined ? { note } : {}) };
}

// ---------------------------------------------------------------- signatures

/** `2026-11-30T07:30:00Z` or with milliseconds; the only time format a signature's `at` takes. */
export const AT_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
export const NONCE_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;

type Decoded = { kind: 'raw'; sig: Uint8Array } | { kind: 'sshsig'; publicKey: Uint8Array; namespace: string; hash: 'sha256' | 'sha512'; sig: Uint8Array };

/** Reads `signature.sig`: a base64 64-byte Ed25519 signature, or an SSHSIG blob (armored or not). */
function decodeSignature(text: string): Decoded | string {
  const body = text
    .replace(/-----(BEGIN|END) SSH SIGNATURE-----/g, '')
    .replace(/\\n/g, '')
    .replace(/\s+/g, '');
  const bytes = decodeBase64(body);
  if (!bytes) return 'signature.sig is not base64 (a raw Ed25519 signature) nor an SSH signature (-----BEGIN SSH SIGNATURE-----)';
  if (bytes.length === 64 && !/BEGIN SSH SIGNATURE/.test(text)) return { kind: 'raw', sig: bytes };
  if (String.fromCharCode(...bytes.subarray(0, 6)) !== 'SSHSIG') {
    return `signature.sig is neither a 64-byte Ed25519 signature (it decodes to ${bytes.length} bytes) nor an SSH signature`;
  }
  try {
    const r = new WireReader(bytes);
    r.raw(6);
    const version = r.uint32();
    if (version !== 1) return `signature.sig is an SSH signature of version ${version}; this release understands version 1`;
    const pub = new WireReader(r.string());
    const keyType = pub.text();
    if (keyType !== SSH_ED25519) return `signature.sig was made with a ${keyType} key; approvals are signed with ssh-ed25519 keys`;
    const publicKey = Uint8Array.from(pub.string());
    const namespace = r.text();
    r.string(); // reserved
    const hash = r.text();
    if (hash !== 'sha512' && hash !== 'sha256') return `signature.sig uses hash ${hash}; ssh-keygen uses sha512`;
    const sigBlob = new WireReader(r.string());
    const sigType = sigBlob.text();
    const sig = Uint8Array.from(sigBlob.string());
    if (sigType !== SSH_ED25519 || sig.length !== 64 || publicKey.length !== 32) return 'signature.sig is a damaged SSH signature';
    return { kind: 'sshsig', publicKey, namespace, hash, sig };
  } catch {
    return 'signature.sig is a damaged or truncated SSH signature';
  }
}

/** What ssh-keygen signs for a message: the SSHSIG preamble with the namespace and the hash of the message. */
function sshsigSignedData(namespace: string, hash: 'sha256' | 'sha512', message: Uint8Array): Uint8Array {
  const digest = hash === 'sha512' ? sha512(message) : sha256(message);
  return concat(utf8('SSHSIG'), sshString(utf8(namespace)), sshString(new Uint8Array(0)), sshString(utf8(hash)), sshString(digest));
}

/**
 * Checks `sig` over `message` with one of `keys`; returns the fingerprint of the key that verified it, or why not.
 * RFC 8032 verification (zip215: false): no malleable variants of one signature.
 */
export function checkSignature(sig: string, message: string, keys: readonly PublicKey[]): { fingerprint: string } | { problem: string } {
  const decoded = decodeSignature(sig);
  if (typeof decoded === 'string') return { problem: decoded };
  const msg = utf8(message);
  if (decoded.kind === 'raw') {
    for (const key of keys) {
      if (safeVerify(decoded.sig, msg, key.bytes)) return { fingerprint: key.fingerprint };
    }
    return { problem: 'mismatch' };
  }
  if (decoded.namespace !== SIGNATURE_NAMESPACE) {
    return { problem: `the SSH signature is for namespace "${decoded.namespace}"; sign with ssh-keygen -Y sign -n ${SIGNATURE_NAMESPACE}` };
  }
  const key = keys.find((k) => equalBytes(k.bytes, decoded.publicKey));
  if (!key) return { problem: `the SSH signature was made with key ${fingerprintOf(decoded.publicKey)}` };
  if (!safeVerify(decoded.sig, sshsigSignedData(decoded.namespace, decoded.hash, msg), key.bytes)) return { problem: 'mismatch' };
  return { fingerprint: key.fingerprint };
}

function safeVerify(sig: Uint8Array, msg: Uint8Array, key: Uint8Array): boolean {
  try {
    return ed25519.verify(sig, msg, key, { zip215: false });
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- verification in the workflow

/** The `signature` object of an approve / promote / abort payload (common/messages.ts `Signature`). */
export interface SignatureObject extends SignatureClaims {
  sig: string;
}

/**
 * Signatures a release has accepted and not yet seen expire (nonce, `at` in ms). Plain JSON, so the workflow keeps
 * it in its state and carries it through continue-as-new; a list, not an object keyed by nonce, so no nonce
 * (`__proto__` fits the nonce pattern) can collide with an object's own machinery.
 */
export type UsedSignatures = Array<{ nonce: string; atMs: number }>;

/** Everything {@link verifySignedAction} needs; all of it comes from the workflow's state and the parsed payload. */
export interface SignedActionCheck {
  verb: SignedVerb;
  /** The parsed payload (its `by`, `comment` / `reason`, `full` and optional `signature`). */
  payload: { by: string; comment?: string; reason?: string; full?: boolean; signature?: SignatureObject };
  /** The release's keys for `payload.by`, undefined or empty when that name has none. */
  keys: readonly string[] | undefined;
  /**
   * Signed mode (the release has approver keys) for a verb that must be signed there: a name without a key is
   * refused instead of accepted unsigned. Off for a release without keys and for verbs anyone may send (abort).
   */
  required?: boolean;
  /** `workflowInfo().workflowId`. */
  release: string;
  /** `workflowInfo().firstExecutionRunId`. */
  run: string;
  /** The step the action applies to now: approve → the open gate's step; promote, abort, resume → the current step. */
  step: number;
  /** Workflow time (`Date.now()` in workflow code). */
  nowMs: number;
  /** The spec's `signatureMaxAge` in ms. */
  maxAgeMs: number;
  /** The release's {@link UsedSignatures}. */
  used: Readonly<UsedSignatures>;
}

/** The outcome: refused with a reason, accepted unsigned (no key for this name), or accepted and verified. */
export type SignedActionVerdict =
  { ok: false; reason: string } | { ok: true; verified: false } | { ok: true; verified: true; fingerprint: string; nonce: string; atMs: number };

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  const m = Math.round(s / 60);
  return m < 120 ? `${m}m` : `${Math.round(m / 60)}h`;
}

/**
 * Decides whether an approve / promote / abort / resume may be accepted as far as signatures go; deterministic (pure
 * function of its input). Refusal reasons, in the order checked:
 * - in signed mode (`required`), a name without a key;
 * - a signature from a name without a key; no signature from a name with a key (missing);
 * - a malformed signature, a signature by another key, or one that does not verify over the canonical message
 *   built from this payload and its claims (wrong key, or tampered verb / step / release / run / by / note / nonce / at);
 * - a genuine signature for another release, another run of this workflow id, or another step;
 * - signed too far in the future, or longer ago than `maxAgeMs` (expired);
 * - a nonce this release has accepted before (replayed); too many live signatures.
 */
export function verifySignedAction(check: SignedActionCheck): SignedActionVerdict {
  const { payload, verb } = check;
  const by = payload.by;
  const sig = payload.signature;
  const keyTexts = check.keys ?? [];
  if (keyTexts.length === 0) {
    if (check.required) {
      return {
        ok: false,
        reason: `this release is in signed mode: a ${verb} must be signed by a key of the release, and ${by} has none (names with keys are in approverKeys)`,
      };
    }
    if (sig)
      return { ok: false, reason: `${by} has no key in the spec's approverKeys, so a signature by ${by} cannot be checked; send it unsigned or add the key` };
    return { ok: true, verified: false };
  }
  if (!sig) {
    return {
      ok: false,
      reason: `${by} signs their actions (approverKeys.${by}): this ${verb} carries no signature; make one with canary sign ${verb} ${check.release} --step ${check.step} --key ~/.ssh/id_ed25519 --by ${by}`,
    };
  }
  const keys: PublicKey[] = [];
  for (const text of keyTexts) {
    try {
      keys.push(parsePublicKey(text));
    } catch {
      // the spec's schema refuses bad keys; one that slips through cannot verify anything
    }
  }
  const message = canonicalMessage(signedFields(verb, payload), sig);
  const result = checkSignature(sig.sig, message, keys);
  if ('problem' in result) {
    const theirs = keys.map((k) => k.fingerprint).join(', ');
    if (result.problem === 'mismatch') {
      return {
        ok: false,
        reason: `the signature does not verify with ${by}'s key (${theirs}): it was made with another key or over other content (release, run, step, verb, by, note, nonce and at are all signed)`,
      };
    }
    if (result.problem.startsWith('the SSH signature was made with key')) return { ok: false, reason: `${result.problem}, which is not ${by}'s (${theirs})` };
    return { ok: false, reason: result.problem };
  }
  if (sig.release !== check.release) return { ok: false, reason: `the signature is for release ${sig.release}, this is ${check.release}` };
  if (sig.run !== check.run) {
    return { ok: false, reason: `the signature is for another release of ${check.release} (first run ${sig.run}); this one's first run is ${check.run}` };
  }
  if (sig.step !== check.step) {
    return { ok: false, reason: `the signature is for step ${sig.step}; the ${verb === 'approve' ? 'open gate is at' : 'release is at'} step ${check.step}` };
  }
  const atMs = AT_PATTERN.test(sig.at) ? Date.parse(sig.at) : NaN;
  if (!Number.isFinite(atMs)) return { ok: false, reason: `signature.at ${JSON.stringify(sig.at)} is not a UTC time like 2026-11-30T07:30:00Z` };
  if (atMs - check.nowMs > MAX_FUTURE_SKEW_MS) {
    return { ok: false, reason: `the signature is dated ${sig.at}, ${ago(atMs - check.nowMs)} in the future: check the signer's clock` };
  }
  if (check.nowMs - atMs > check.maxAgeMs) {
    return {
      ok: false,
      reason: `the signature expired: it was made ${ago(check.nowMs - atMs)} ago (${sig.at}) and is valid for ${ago(check.maxAgeMs)}; sign again`,
    };
  }
  if (check.used.some((u) => u.nonce === sig.nonce)) {
    return { ok: false, reason: `replayed: this signature (nonce ${sig.nonce}) was already used in this release; sign again with a fresh nonce` };
  }
  if (check.used.filter((u) => check.nowMs - u.atMs <= check.maxAgeMs).length >= MAX_REMEMBERED_SIGNATURES) {
    return { ok: false, reason: `too many signed actions within ${ago(check.maxAgeMs)} (${MAX_REMEMBERED_SIGNATURES}); wait for older ones to expire` };
  }
  return { ok: true, verified: true, fingerprint: result.fingerprint, nonce: sig.nonce, atMs };
}

/**
 * The release's used signatures after accepting `verdict`: adds its nonce and drops every entry that has expired
 * (an expired signature is refused before its nonce is looked at). Returns a new object; call it in the handler
 * that applies the action, never in a validator.
 */
export function rememberSignature(used: Readonly<UsedSignatures>, verdict: SignedActionVerdict, nowMs: number, maxAgeMs: number): UsedSignatures {
  const next = used.filter((u) => nowMs - u.atMs <= maxAgeMs);
  if (verdict.ok && verdict.verified && !next.some((u) => u.nonce === verdict.nonce)) next.push({ nonce: verdict.nonce, atMs: verdict.atMs });
  return next;
}
