import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AbortInput, ApproveInput, PromoteInput } from '../../common/messages';
import { DEFAULT_SIGNATURE_MAX_AGE_MS, verifySignedAction } from '../../common/signing';
import { parsePrivateKey, readSigningKey, signCommand, signPayload, signedPayload, SigningError } from '../../client/signing';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'signing');
const ALICE_KEY = path.join(FIXTURES, 'alice_ed25519');
const ALICE_PUB = fs.readFileSync(`${ALICE_KEY}.pub`, 'utf8').trim();
const RUN = '0195c0de-1234-7abc-8def-0123456789ab';

describe('reading a private key', () => {
  it('reads an unencrypted OpenSSH ed25519 key as ssh-keygen wrote it', () => {
    const key = readSigningKey(ALICE_KEY);
    expect(key.fingerprint).toBe('SHA256:dDBGBAWkpNznDnw991YmifkhLqH4aMCtbU8WdD7TNW4');
    expect(key.sshPublicKey).toBe(ALICE_PUB);
  });

  it('refuses an encrypted key, saying to use ssh-agent with ssh-keygen -Y sign', () => {
    expect(() => readSigningKey(path.join(FIXTURES, 'bob_encrypted_ed25519'))).toThrow(
      /is encrypted \(cipher aes256-ctr\): load it into ssh-agent and sign with stock ssh-keygen \(ssh-keygen -Y sign -n canary/,
    );
  });

  it('says what to give instead of a public key, a missing file or an RSA key', () => {
    expect(() => readSigningKey(`${ALICE_KEY}.pub`)).toThrow(/is a public key; give the private key \(the same path without \.pub\)/);
    expect(() => readSigningKey(path.join(FIXTURES, 'nope'))).toThrow(/cannot read the key .*nope: ENOENT/);
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => parsePrivateKey(rsa, 'rsa.pem')).toThrow('rsa.pem is a rsa key; approvals are signed with Ed25519 keys');
    const encrypted = crypto
      .generateKeyPairSync('ed25519')
      .privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' })
      .toString();
    expect(() => parsePrivateKey(encrypted, 'enc.pem')).toThrow(/enc.pem is encrypted/);
  });

  it('reads a PKCS#8 PEM Ed25519 key (openssl genpkey -algorithm ed25519)', () => {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
    const key = parsePrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    expect(Buffer.from(key.publicKey).equals(Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url'))).toBe(true);
  });
});

describe('signing an action', () => {
  const key = readSigningKey(ALICE_KEY);

  it('makes a signature the workflow verifies (Node crypto signs, @noble/curves verifies)', () => {
    for (const [verb, payload] of [
      ['approve', { by: 'alice', comment: 'ok ✓', step: 3 }],
      ['promote', { by: 'alice', full: true }],
      ['abort', { by: 'alice', reason: 'error budget' }],
    ] as const) {
      const signed = signPayload(key, verb, payload, { release: 'release-checkout', run: RUN, step: 3 });
      const schema = { approve: ApproveInput, promote: PromoteInput, abort: AbortInput }[verb];
      expect(schema.safeParse(signed).success).toBe(true);
      const verdict = verifySignedAction({
        verb,
        payload: signed,
        keys: [ALICE_PUB],
        release: 'release-checkout',
        run: RUN,
        step: 3,
        nowMs: Date.parse(signed.signature.at) + 1_000,
        maxAgeMs: DEFAULT_SIGNATURE_MAX_AGE_MS,
        used: [],
      });
      expect(verdict).toMatchObject({ ok: true, verified: true, fingerprint: key.fingerprint });
    }
  });

  it('uses a fresh nonce for every signature', () => {
    const a = signPayload(key, 'approve', { by: 'alice' }, { release: 'release-checkout', run: RUN, step: 1 });
    const b = signPayload(key, 'approve', { by: 'alice' }, { release: 'release-checkout', run: RUN, step: 1 });
    expect(a.signature.nonce).not.toBe(b.signature.nonce);
    expect(a.signature.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(a.signature.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('signs offline when the run and step are given, and puts the step into an approval', async () => {
    const signed = await signedPayload({ release: 'checkout', verb: 'approve', payload: { by: 'alice' }, keyFile: ALICE_KEY, run: RUN, step: 2 });
    expect(signed).toMatchObject({ by: 'alice', step: 2, signature: { release: 'release-checkout', run: RUN, step: 2 } });
    await expect(signedPayload({ release: 'checkout', verb: 'abort', payload: { by: 'alice', reason: 'x' }, keyFile: ALICE_KEY, run: RUN })).rejects.toThrow(
      new SigningError('to sign without a connection to Temporal, give both --run (the first run id) and --step'),
    );
  });
});

describe('canary sign', () => {
  async function runSign(args: string[]): Promise<{ code: number | undefined; stdout: string; stderr: string }> {
    let code: number | undefined;
    let stdout = '';
    let stderr = '';
    const out = jest.spyOn(process.stdout, 'write').mockImplementation((t) => ((stdout += String(t)), true));
    const err = jest.spyOn(process.stderr, 'write').mockImplementation((t) => ((stderr += String(t)), true));
    try {
      await signCommand((c) => (code = c))
        .exitOverride()
        .parseAsync(args, { from: 'user' });
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
    return { code, stdout, stderr };
  }

  it('prints one line of JSON to paste, and on stderr how to send it', async () => {
    const r = await runSign(['approve', 'release-checkout', '--key', ALICE_KEY, '--step', '3', '--run', RUN, '--by', 'alice', '--comment', "it's fine"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const payload = JSON.parse(r.stdout) as { by: string; step: number; comment: string; signature: { sig: string } };
    expect(payload).toMatchObject({ by: 'alice', step: 3, comment: "it's fine", signature: { release: 'release-checkout', run: RUN, step: 3 } });
    expect(r.stderr).toContain('signed approve of release-checkout (first run 0195c0de-1234-7abc-8def-0123456789ab) at step 3 by alice with SHA256:dDBG');
    expect(r.stderr).toContain(`temporal workflow update execute --workflow-id release-checkout --name approve --input '`);
    expect(r.stderr).toContain(`it'\\''s fine`);
  });

  it('exits 2 with the reason for a key it cannot use', async () => {
    const r = await runSign([
      'abort',
      'checkout',
      '--key',
      path.join(FIXTURES, 'bob_encrypted_ed25519'),
      '--step',
      '1',
      '--run',
      RUN,
      '--by',
      'bob',
      '--reason',
      'x',
    ]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/bob_encrypted_ed25519 is encrypted/);
  });
});
