/** The spec's approverKeys / signatureMaxAge and the messages' `signature` object: parsed at the edge, errors name the field. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AbortInput, ApproveInput, PauseInput, PromoteInput, ResumeInput, messageRejected, payloadProblem } from '../../common/messages';
import { approverKeysFor, fieldErrors, ReleaseSpec, signatureMaxAgeMs } from '../../common/spec';

const ALICE = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'signing', 'alice_ed25519.pub'), 'utf8').trim();
const MALLORY = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'signing', 'mallory_ed25519.pub'), 'utf8').trim();
const LISTENER = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/checkout-alb/50dc6c495c0c9188/f2f7dc8efc522ab2';

function spec(extra: Record<string, unknown>): unknown {
  return {
    service: 'checkout',
    version: 'v1',
    region: 'us-east-1',
    traffic: { listenerArn: LISTENER },
    environment: { canaryTargets: [{ id: '10.0.1.17', port: 8080 }] },
    steps: [{ approval: { approvers: ['alice', 'bob'], timeout: '1h' } }, { setWeight: 100 }],
    ...extra,
  };
}

function errors(extra: Record<string, unknown>): string[] {
  const r = ReleaseSpec.safeParse(spec(extra));
  return r.success ? [] : fieldErrors(r.error).map((e) => `${e.field}: ${e.message}`);
}

describe('signed mode in the spec', () => {
  it('needs every approval step to list its approvers, each with a key', () => {
    expect(errors({ approverKeys: { alice: ALICE }, steps: [{ approval: { timeout: '1h' } }, { setWeight: 100 }] })).toEqual([
      'steps[0].approval.approvers: signed mode (approverKeys is set) needs the approvers listed; names with keys: alice',
    ]);
    expect(errors({ approverKeys: { alice: ALICE } })).toEqual([
      'steps[0].approval.approvers: bob has no key in approverKeys: in signed mode every approver signs',
    ]);
    expect(errors({ approverKeys: { alice: ALICE, bob: MALLORY } })).toEqual([]);
    // Without keys an empty list still means anyone but the initiator.
    expect(errors({ steps: [{ approval: { timeout: '1h' } }, { setWeight: 100 }] })).toEqual([]);
  });

  it('takes CI bot names and refuses look-alike and invisible characters in every name, saying which character', () => {
    expect(
      errors({
        initiator: 'dependabot[bot]',
        approverKeys: { 'release-bot[bot]': ALICE, bob: MALLORY },
        steps: [{ approval: { approvers: ['release-bot[bot]', 'bob'], timeout: '1h' } }, { setWeight: 100 }],
      }),
    ).toEqual([]);
    expect(errors({ initiator: 'alice\u200b' })).toEqual([expect.stringMatching(/^initiator: a name is 1-63 ASCII .* it contains U\+200B/)]);
    expect(errors({ steps: [{ approval: { approvers: ['аlice'], timeout: '1h' } }, { setWeight: 100 }] })).toEqual([
      expect.stringMatching(/^steps\[0\]\.approval\.approvers\[0\]: .* it contains U\+0430/),
    ]);
    expect(payloadProblem(AbortInput.safeParse({ by: 'alice\u202e', reason: 'x' }).error!)).toMatch(/^by: a name is 1-63 ASCII .* U\+202E/);
    expect(payloadProblem(ApproveInput.safeParse({ by: 'bot[bot][bot]' }).error!)).toMatch(/^by: a name is 1-63 ASCII/);
    expect(PauseInput.parse({ by: ' dependabot[bot] ' }).by).toBe('dependabot[bot]');
  });
});

describe('approverKeys in the spec', () => {
  it('takes one key or a list per name, and leaves specs without keys exactly as before', () => {
    const parsed = ReleaseSpec.parse(spec({ approverKeys: { alice: ALICE, bob: [MALLORY.replace('mallory', 'bob')] }, signatureMaxAge: '5m' }));
    expect(parsed.approverKeys).toEqual({ alice: [ALICE], bob: [MALLORY.replace('mallory', 'bob')] });
    expect(approverKeysFor(parsed.approverKeys, 'alice')).toEqual([ALICE]);
    expect(approverKeysFor(parsed.approverKeys, 'carol')).toBeUndefined();
    expect(approverKeysFor(parsed.approverKeys, 'constructor')).toBeUndefined();
    expect(signatureMaxAgeMs(parsed)).toBe(300_000);
    const plain = ReleaseSpec.parse(spec({}));
    expect('approverKeys' in plain).toBe(false);
    expect('signatureMaxAge' in plain).toBe(false);
    expect(signatureMaxAgeMs(plain)).toBe(600_000);
  });

  it('names the field of every unusable key', () => {
    expect(
      errors({
        approverKeys: { alice: 'ssh-rsa AAAAB3NzaC1yc2E bob@x', bob: [ALICE.slice(0, 40)], 'carol smith': ALICE, dave: [] },
        signatureMaxAge: '1s',
      }),
    ).toEqual([
      'approverKeys.alice: only ssh-ed25519 keys can sign approvals (this is ssh-rsa); make one with ssh-keygen -t ed25519',
      'approverKeys.bob[0]: the ssh-ed25519 key is damaged (its base64 does not hold an ssh-ed25519 key); copy the whole line of the .pub file',
      expect.stringMatching(/^approverKeys\.carol smith: a name is 1-63 ASCII .* it contains U\+0020/),
      expect.stringMatching(/^approverKeys\.dave/),
      'signatureMaxAge: between 30s and 1d',
    ]);
  });

  it('refuses one key under two names (either could sign as the other)', () => {
    expect(errors({ approverKeys: { alice: ALICE, bob: [MALLORY, ALICE] } })).toEqual([
      'approverKeys.bob[1]: the same key as approverKeys.alice: a key identifies one person',
    ]);
  });
});

describe('the signature object of a message', () => {
  const signature = { release: 'release-checkout', run: 'r1', step: 3, nonce: 'abcdefgh12', at: '2026-11-30T07:30:00Z', sig: 'AAAA' };

  it('is accepted by approve, promote, abort and resume, not by pause', () => {
    expect(ApproveInput.safeParse({ by: 'alice', signature }).success).toBe(true);
    expect(ResumeInput.safeParse({ by: 'alice', signature }).success).toBe(true);
    expect(PromoteInput.safeParse({ by: 'alice', signature }).success).toBe(true);
    expect(AbortInput.safeParse({ by: 'alice', reason: 'x', signature }).success).toBe(true);
    const pause = PauseInput.safeParse({ by: 'alice', signature });
    expect(pause.success || payloadProblem(pause.error)).toBe('signature: unknown field');
  });

  it('is strict and says which part is wrong', () => {
    const r = ApproveInput.safeParse({ by: 'alice', signature: { ...signature, nonce: 'short', at: 'yesterday', extra: 1 } });
    expect(r.success || payloadProblem(r.error)).toBe(
      'signature.extra: unknown field; signature.nonce: a fresh random nonce: 8-64 letters, digits, _ or -; signature.at: when it was signed, a UTC time such as 2026-11-30T07:30:00Z',
    );
    const missing = ApproveInput.safeParse({ by: 'alice', signature: { sig: 'AAAA' } });
    expect(missing.success || payloadProblem(missing.error)).toMatch(/^signature\.release: /);
  });
});

describe('messageRejected', () => {
  it('is a non-retryable MessageRejected failure with only the reason, and no stack to show', () => {
    const f = messageRejected('alice is not an approver of step 3');
    expect(f).toMatchObject({ type: 'MessageRejected', nonRetryable: true, message: 'alice is not an approver of step 3' });
    expect(f.stack).toBe('');
  });
});
