import * as fs from 'node:fs';
import * as path from 'node:path';
import { ed25519 } from '@noble/curves/ed25519';
import {
  DEFAULT_SIGNATURE_MAX_AGE_MS,
  MAX_REMEMBERED_SIGNATURES,
  canonicalMessage,
  decodeBase64,
  encodeBase64,
  formatSshPublicKey,
  parsePublicKey,
  publicKeyProblem,
  rememberSignature,
  signedFields,
  utf8,
  verifySignedAction,
  type SignatureObject,
  type SignedActionCheck,
  type SignedVerb,
  type UsedSignatures,
} from '../../common/signing';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'signing');
const fixture = (name: string): string => fs.readFileSync(path.join(FIXTURES, name), 'utf8');

/** alice's key as ssh-keygen made it, and its fingerprint as `ssh-keygen -lf` prints it. */
const ALICE_SSH = fixture('alice_ed25519.pub').trim();
const ALICE_FINGERPRINT = 'SHA256:dDBGBAWkpNznDnw991YmifkhLqH4aMCtbU8WdD7TNW4';
const MALLORY_SSH = fixture('mallory_ed25519.pub').trim();

const RELEASE = 'release-checkout';
const RUN = '0195c0de-1234-7abc-8def-0123456789ab';
const AT = '2026-11-30T07:30:00Z';
const AT_MS = Date.parse(AT);

/** A raw-key signer, as `canary sign` does it (the client's own signer is tested in test/unit/client-signing.test.ts). */
function rawSigner(): { secret: Uint8Array; publicKey: Uint8Array; keyText: string } {
  const secret = ed25519.utils.randomSecretKey();
  const publicKey = ed25519.getPublicKey(secret);
  return { secret, publicKey, keyText: Buffer.from(publicKey).toString('base64') };
}

function sign(
  secret: Uint8Array,
  verb: SignedVerb,
  payload: { by: string; comment?: string; reason?: string; full?: boolean },
  claims: Partial<Omit<SignatureObject, 'sig'>> = {},
): SignatureObject {
  const c = { release: RELEASE, run: RUN, step: 3, nonce: `n${Math.random().toString(36).slice(2, 14)}`, at: AT, ...claims };
  const message = canonicalMessage(signedFields(verb, payload), c);
  return { ...c, sig: Buffer.from(ed25519.sign(utf8(message), secret)).toString('base64') };
}

function check(over: Partial<SignedActionCheck> & Pick<SignedActionCheck, 'payload'>): SignedActionCheck {
  return {
    verb: 'approve',
    keys: undefined,
    release: RELEASE,
    run: RUN,
    step: 3,
    nowMs: AT_MS + 60_000,
    maxAgeMs: DEFAULT_SIGNATURE_MAX_AGE_MS,
    used: [],
    ...over,
  };
}

const refusal = (c: SignedActionCheck): string => {
  const v = verifySignedAction(c);
  if (v.ok) throw new Error(`expected a refusal, got ${JSON.stringify(v)}`);
  return v.reason;
};

describe('approver keys', () => {
  it('reads an ssh-ed25519 line from a .pub file and fingerprints it as ssh-keygen -l does', () => {
    expect(parsePublicKey(ALICE_SSH).fingerprint).toBe(ALICE_FINGERPRINT);
    expect(parsePublicKey(`  ${ALICE_SSH.split(' ').slice(0, 2).join(' ')}  `).fingerprint).toBe(ALICE_FINGERPRINT);
  });

  it('reads the same key written raw as hex, base64, base64url or ed25519:base64, with the same fingerprint', () => {
    const bytes = parsePublicKey(ALICE_SSH).bytes;
    const b64 = Buffer.from(bytes).toString('base64');
    for (const text of [Buffer.from(bytes).toString('hex'), b64, Buffer.from(bytes).toString('base64url'), `ed25519:${b64}`, b64.replace(/=$/, '')]) {
      expect(parsePublicKey(text).fingerprint).toBe(ALICE_FINGERPRINT);
    }
    expect(formatSshPublicKey(bytes)).toBe(ALICE_SSH.split(' ').slice(0, 2).join(' '));
  });

  it('says what is wrong with keys it cannot use', () => {
    expect(publicKeyProblem(fixture('rsa_key.pub'))).toMatch(/^only ssh-ed25519 keys can sign approvals \(this is ssh-rsa\)/);
    expect(publicKeyProblem('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAHRsqKpT9')).toMatch(/damaged/);
    expect(publicKeyProblem('ssh-ed25519 %%%')).toMatch(/not base64/);
    expect(publicKeyProblem('alice')).toMatch(/^not an Ed25519 public key/);
    expect(publicKeyProblem('ff'.repeat(32))).toMatch(/not a curve point/);
    expect(publicKeyProblem(Buffer.alloc(31, 1).toString('hex'))).toMatch(/^not an Ed25519 public key/);
    expect(publicKeyProblem(ALICE_SSH)).toBeUndefined();
  });
});

describe('bytes without Buffer', () => {
  it('decodes and encodes base64 as Buffer does, for every length', () => {
    for (let n = 0; n < 70; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
      const b64 = Buffer.from(bytes).toString('base64');
      expect(encodeBase64(bytes)).toBe(b64);
      expect(Buffer.from(decodeBase64(b64)!).equals(Buffer.from(bytes))).toBe(true);
      expect(Buffer.from(decodeBase64(Buffer.from(bytes).toString('base64url'))!).equals(Buffer.from(bytes))).toBe(true);
    }
    expect(decodeBase64('ab$d')).toBeUndefined();
  });

  it('encodes UTF-8 as Buffer does, including astral characters', () => {
    const text = 'approve ✓ — naïve 日本 🚀 "quoted"\n';
    expect(Buffer.from(utf8(text)).equals(Buffer.from(text, 'utf8'))).toBe(true);
  });
});

describe('canonical message', () => {
  it('is exactly the text a person signs with ssh-keygen (the recorded fixture)', () => {
    const message = canonicalMessage(signedFields('approve', { by: 'alice', comment: 'lgtm' }), {
      release: RELEASE,
      run: RUN,
      step: 3,
      nonce: 'fixtureNonce01',
      at: AT,
    });
    expect(message).toBe(fixture('approve-step3.msg'));
  });

  it('names full for every promote, the reason of an abort, and quotes notes so no line can be forged', () => {
    const claims = { release: RELEASE, run: RUN, step: 1, nonce: 'abcdefgh', at: AT };
    expect(canonicalMessage(signedFields('promote', { by: 'bob' }), claims)).toContain('\nby bob\nfull false\nnonce abcdefgh\n');
    expect(canonicalMessage(signedFields('promote', { by: 'bob', full: true }), claims)).toContain('\nfull true\n');
    const abort = canonicalMessage(signedFields('abort', { by: 'bob', reason: 'bad\nstep 9' }), claims);
    expect(abort).toContain('\nverb abort\nstep 1\nby bob\nnote "bad\\nstep 9"\n');
    expect(abort.split('\n').filter((l) => l.startsWith('step '))).toEqual(['step 1']);
  });
});

describe('verifySignedAction', () => {
  const alice = rawSigner();
  const keys = [alice.keyText];

  it('accepts a raw signature made over the canonical message and reports the key', () => {
    const payload = { by: 'alice', comment: 'dashboards fine', signature: sign(alice.secret, 'approve', { by: 'alice', comment: 'dashboards fine' }) };
    const v = verifySignedAction(check({ payload, keys }));
    expect(v).toEqual({ ok: true, verified: true, fingerprint: parsePublicKey(alice.keyText).fingerprint, nonce: payload.signature.nonce, atMs: AT_MS });
  });

  it('accepts the SSHSIG that stock ssh-keygen made (sha512 and sha256), and refuses another namespace', () => {
    const payload = (file: string) => ({
      by: 'alice',
      comment: 'lgtm',
      signature: { release: RELEASE, run: RUN, step: 3, nonce: 'fixtureNonce01', at: AT, sig: fixture(file) },
    });
    expect(verifySignedAction(check({ payload: payload('approve-step3.canary.sig'), keys: [ALICE_SSH] }))).toMatchObject({
      ok: true,
      verified: true,
      fingerprint: ALICE_FINGERPRINT,
    });
    expect(verifySignedAction(check({ payload: payload('approve-step3.canary-sha256.sig'), keys: [ALICE_SSH] }))).toMatchObject({ verified: true });
    // pasted into JSON by hand: armor and newlines dropped, or the newlines written as \n
    const flat = payload('approve-step3.canary.sig');
    flat.signature.sig = flat.signature.sig.replace(/\n/g, '\\n');
    expect(verifySignedAction(check({ payload: flat, keys: [ALICE_SSH] }))).toMatchObject({ verified: true });
    expect(refusal(check({ payload: payload('approve-step3.git.sig'), keys: [ALICE_SSH] }))).toBe(
      'the SSH signature is for namespace "git"; sign with ssh-keygen -Y sign -n canary',
    );
    expect(refusal(check({ payload: payload('approve-step3.canary.sig'), keys: [MALLORY_SSH] }))).toMatch(
      new RegExp(`^the SSH signature was made with key ${ALICE_FINGERPRINT}, which is not alice's \\(SHA256:`),
    );
    const tampered = payload('approve-step3.canary.sig');
    tampered.comment = 'lgtm!';
    expect(refusal(check({ payload: tampered, keys: [ALICE_SSH] }))).toMatch(/^the signature does not verify with alice's key/);
  });

  it('accepts an unsigned action from a name without a key, and refuses a signature it has no key for', () => {
    expect(verifySignedAction(check({ payload: { by: 'carol' } }))).toEqual({ ok: true, verified: false });
    expect(verifySignedAction(check({ payload: { by: 'carol' }, keys: [] }))).toEqual({ ok: true, verified: false });
    const signature = sign(alice.secret, 'approve', { by: 'carol' });
    expect(refusal(check({ payload: { by: 'carol', signature } }))).toMatch(/^carol has no key in the spec's approverKeys/);
  });

  it('refuses a missing signature from a name that has a key, saying how to sign', () => {
    expect(refusal(check({ payload: { by: 'alice' }, keys }))).toBe(
      'alice signs their actions (approverKeys.alice): this approve carries no signature; make one with canary sign approve release-checkout --step 3 --key ~/.ssh/id_ed25519 --by alice',
    );
  });

  it('refuses a signature made with another key', () => {
    const mallory = rawSigner();
    const payload = { by: 'alice', signature: sign(mallory.secret, 'approve', { by: 'alice' }) };
    expect(refusal(check({ payload, keys }))).toMatch(/^the signature does not verify with alice's key \(SHA256:[A-Za-z0-9+/]{43}\)/);
  });

  it('accepts any of several keys of one name', () => {
    const laptop = rawSigner();
    const payload = { by: 'alice', signature: sign(laptop.secret, 'approve', { by: 'alice' }) };
    expect(verifySignedAction(check({ payload, keys: [alice.keyText, laptop.keyText] }))).toMatchObject({
      verified: true,
      fingerprint: parsePublicKey(laptop.keyText).fingerprint,
    });
  });

  it.each([
    ['step', (p: { by: string; signature: SignatureObject }) => (p.signature.step = 4)],
    ['release', (p: { by: string; signature: SignatureObject }) => (p.signature.release = 'release-payments')],
    ['run', (p: { by: string; signature: SignatureObject }) => (p.signature.run = '0195c0de-0000-7abc-8def-0123456789ab')],
    ['nonce', (p: { by: string; signature: SignatureObject }) => (p.signature.nonce = 'otherNonce1')],
    ['at', (p: { by: string; signature: SignatureObject }) => (p.signature.at = '2026-11-30T07:31:00Z')],
    ['by', (p: { by: string; signature: SignatureObject }) => (p.by = 'alice2')],
  ])('refuses a signature whose %s was changed after signing', (_field, tamper) => {
    const payload = { by: 'alice', signature: sign(alice.secret, 'approve', { by: 'alice' }) };
    tamper(payload);
    expect(refusal(check({ payload, keys }))).toMatch(/^the signature does not verify with alice2?'s key/);
  });

  it('refuses a signature moved to another verb, or another full flag, or another comment', () => {
    const approve = sign(alice.secret, 'approve', { by: 'alice' });
    expect(refusal(check({ verb: 'abort', payload: { by: 'alice', reason: 'x', signature: approve }, keys }))).toMatch(/does not verify/);
    const promote = sign(alice.secret, 'promote', { by: 'alice', full: false });
    expect(refusal(check({ verb: 'promote', payload: { by: 'alice', full: true, signature: promote }, keys }))).toMatch(/does not verify/);
    expect(verifySignedAction(check({ verb: 'promote', payload: { by: 'alice', full: false, signature: promote }, keys }))).toMatchObject({ verified: true });
    const resume = sign(alice.secret, 'resume', { by: 'alice', comment: 'looked at it' });
    expect(verifySignedAction(check({ verb: 'resume', payload: { by: 'alice', comment: 'looked at it', signature: resume }, keys }))).toMatchObject({
      verified: true,
    });
    expect(refusal(check({ verb: 'approve', payload: { by: 'alice', comment: 'looked at it', signature: resume }, keys }))).toMatch(/does not verify/);
    const commented = sign(alice.secret, 'approve', { by: 'alice', comment: 'ok' });
    expect(refusal(check({ payload: { by: 'alice', comment: 'ok, and skip analysis', signature: commented }, keys }))).toMatch(/does not verify/);
  });

  it('refuses a genuine signature made for another release, another run or another step', () => {
    const other = sign(alice.secret, 'approve', { by: 'alice' }, { release: 'release-payments' });
    expect(refusal(check({ payload: { by: 'alice', signature: other }, keys }))).toBe(
      'the signature is for release release-payments, this is release-checkout',
    );
    const oldRun = sign(alice.secret, 'approve', { by: 'alice' }, { run: '0195aaaa-1234-7abc-8def-0123456789ab' });
    expect(refusal(check({ payload: { by: 'alice', signature: oldRun }, keys }))).toBe(
      `the signature is for another release of release-checkout (first run 0195aaaa-1234-7abc-8def-0123456789ab); this one's first run is ${RUN}`,
    );
    const step2 = sign(alice.secret, 'approve', { by: 'alice' }, { step: 2 });
    expect(refusal(check({ payload: { by: 'alice', signature: step2 }, keys }))).toBe('the signature is for step 2; the open gate is at step 3');
    const abort = sign(alice.secret, 'abort', { by: 'alice', reason: 'r' }, { step: 2 });
    expect(refusal(check({ verb: 'abort', payload: { by: 'alice', reason: 'r', signature: abort }, keys }))).toBe(
      'the signature is for step 2; the release is at step 3',
    );
  });

  it('refuses an expired signature and one dated too far in the future, by workflow time', () => {
    const signature = sign(alice.secret, 'approve', { by: 'alice' });
    const payload = { by: 'alice', signature };
    expect(verifySignedAction(check({ payload, keys, nowMs: AT_MS + 10 * 60_000 }))).toMatchObject({ verified: true });
    expect(refusal(check({ payload, keys, nowMs: AT_MS + 10 * 60_000 + 1 }))).toBe(
      'the signature expired: it was made 10m ago (2026-11-30T07:30:00Z) and is valid for 10m; sign again',
    );
    expect(refusal(check({ payload, keys, nowMs: AT_MS + 3_600_000, maxAgeMs: 30 * 60_000 }))).toMatch(/made 60m ago .* valid for 30m/);
    expect(verifySignedAction(check({ payload, keys, nowMs: AT_MS - 2 * 60_000 }))).toMatchObject({ verified: true });
    expect(refusal(check({ payload, keys, nowMs: AT_MS - 5 * 60_000 }))).toBe(
      "the signature is dated 2026-11-30T07:30:00Z, 5m in the future: check the signer's clock",
    );
    const badAt = sign(alice.secret, 'approve', { by: 'alice' }, { at: '2026-11-30 07:30' });
    expect(refusal(check({ payload: { by: 'alice', signature: badAt }, keys }))).toMatch(/^signature.at "2026-11-30 07:30" is not a UTC time/);
  });

  it('refuses a replayed signature while it is remembered, and forgets it only once it has expired', () => {
    const payload = { by: 'alice', signature: sign(alice.secret, 'approve', { by: 'alice' }) };
    const first = verifySignedAction(check({ payload, keys }));
    expect(first).toMatchObject({ ok: true, verified: true });
    let used: UsedSignatures = rememberSignature([], first, AT_MS + 60_000, DEFAULT_SIGNATURE_MAX_AGE_MS);
    expect(used).toEqual([{ nonce: payload.signature.nonce, atMs: AT_MS }]);
    expect(refusal(check({ payload, keys, used }))).toBe(
      `replayed: this signature (nonce ${payload.signature.nonce}) was already used in this release; sign again with a fresh nonce`,
    );
    // still remembered at the last moment it would verify
    used = rememberSignature(used, { ok: true, verified: false }, AT_MS + DEFAULT_SIGNATURE_MAX_AGE_MS, DEFAULT_SIGNATURE_MAX_AGE_MS);
    expect(used).toHaveLength(1);
    expect(refusal(check({ payload, keys, used, nowMs: AT_MS + DEFAULT_SIGNATURE_MAX_AGE_MS }))).toMatch(/^replayed/);
    used = rememberSignature(used, { ok: true, verified: false }, AT_MS + DEFAULT_SIGNATURE_MAX_AGE_MS + 1, DEFAULT_SIGNATURE_MAX_AGE_MS);
    expect(used).toEqual([]);
    expect(refusal(check({ payload, keys, used, nowMs: AT_MS + DEFAULT_SIGNATURE_MAX_AGE_MS + 1 }))).toMatch(/^the signature expired/);
  });

  it('refuses a nonce that looks like object machinery when it was used (no prototype tricks)', () => {
    const payload = { by: 'alice', signature: sign(alice.secret, 'approve', { by: 'alice' }, { nonce: '__proto__' }) };
    const used = rememberSignature([], verifySignedAction(check({ payload, keys })), AT_MS, DEFAULT_SIGNATURE_MAX_AGE_MS);
    expect(refusal(check({ payload, keys, used }))).toMatch(/^replayed/);
  });

  it('fails closed when a release holds as many live signatures as it remembers', () => {
    const used: UsedSignatures = Array.from({ length: MAX_REMEMBERED_SIGNATURES }, (_, i) => ({ nonce: `nonce${i}xx`, atMs: AT_MS }));
    const payload = { by: 'alice', signature: sign(alice.secret, 'approve', { by: 'alice' }) };
    expect(refusal(check({ payload, keys, used }))).toBe('too many signed actions within 10m (500); wait for older ones to expire');
  });

  it('refuses malformed signatures with a reason', () => {
    const base = sign(alice.secret, 'approve', { by: 'alice' });
    expect(refusal(check({ payload: { by: 'alice', signature: { ...base, sig: 'not base64!' } }, keys }))).toMatch(/^signature.sig is not base64/);
    expect(refusal(check({ payload: { by: 'alice', signature: { ...base, sig: Buffer.alloc(40).toString('base64') } }, keys }))).toMatch(/decodes to 40 bytes/);
    const truncated = fixture('approve-step3.canary.sig')
      .replace(/-----[A-Z ]+-----/g, '')
      .replace(/\s/g, '')
      .slice(0, 60);
    expect(refusal(check({ payload: { by: 'alice', signature: { ...base, sig: truncated } }, keys }))).toMatch(/damaged or truncated SSH signature/);
  });

  it('is deterministic: the same input gives the same verdict, with no clock of its own', () => {
    const payload = { by: 'alice', signature: sign(alice.secret, 'approve', { by: 'alice' }) };
    const c = check({ payload, keys });
    expect(verifySignedAction(c)).toEqual(verifySignedAction(c));
    expect(refusal({ ...c, nowMs: AT_MS + 11 * 60_000 })).toMatch(/expired/);
  });
});
