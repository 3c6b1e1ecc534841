/**
 * Rule transforms for the realism layer (./alb-realism.ts): moto accepts `Transforms` on CreateRule and ModifyRule and
 * drops them, so a rule described afterwards has none. AWS keeps a rule's URL and host-header rewrites and returns them
 * in every answer that describes the rule. This keeps, per rule ARN, the transforms a successful CreateRule or
 * ModifyRule was given (ModifyRule without `Transforms` leaves them, `ResetTransforms=true` removes them, DeleteRule
 * forgets them) and writes them into the CreateRule, ModifyRule and DescribeRules answers, as the ELBv2 API does.
 */

/** The actions whose answers carry rules (and DeleteRule, whose rule is forgotten). */
const REWRITTEN = new Set(['CreateRule', 'ModifyRule', 'DescribeRules', 'DeleteRule']);

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function xmlUnescape(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/** `prefix.Rewrites.member.N.Regex` / `.Replace` of an awsQuery form body, as XML members. */
function rewritesXml(params: URLSearchParams, prefix: string): string {
  let members = '';
  for (let i = 1; params.has(`${prefix}.Rewrites.member.${i}.Regex`) || params.has(`${prefix}.Rewrites.member.${i}.Replace`); i++) {
    const regex = params.get(`${prefix}.Rewrites.member.${i}.Regex`) ?? '';
    const replace = params.get(`${prefix}.Rewrites.member.${i}.Replace`) ?? '';
    members += `<member><Regex>${xmlEscape(regex)}</Regex><Replace>${xmlEscape(replace)}</Replace></member>`;
  }
  return `<Rewrites>${members}</Rewrites>`;
}

/**
 * The `<Transforms>` element for the `Transforms.member.N...` parameters of a request; '' when it names none (an
 * empty list, `Transforms=`, is none as well).
 */
export function transformsXml(params: URLSearchParams): string {
  let members = '';
  for (let i = 1; params.has(`Transforms.member.${i}.Type`); i++) {
    const p = `Transforms.member.${i}`;
    const type = params.get(`${p}.Type`) ?? '';
    let config = '';
    for (const field of ['HostHeaderRewriteConfig', 'UrlRewriteConfig']) {
      if ([...params.keys()].some((k) => k.startsWith(`${p}.${field}.`))) config += `<${field}>${rewritesXml(params, `${p}.${field}`)}</${field}>`;
    }
    members += `<member><Type>${xmlEscape(type)}</Type>${config}</member>`;
  }
  return members ? `<Transforms>${members}</Transforms>` : '';
}

/** The rules' transforms moto does not keep. */
export class RuleTransforms {
  /** Rule ARN → its `<Transforms>` element. */
  private readonly byRule = new Map<string, string>();

  /** Whether the answer of `action` goes through {@link rewrite}. */
  rewrites(action: string): boolean {
    return REWRITTEN.has(action);
  }

  /**
   * Records what a successful call changed and returns its answer with each known rule's transforms in it (after the
   * rule's `<RuleArn>`; the SDK reads a member's fields in any order).
   */
  rewrite(action: string, params: URLSearchParams, xml: string): string {
    switch (action) {
      case 'CreateRule': {
        const arn = /<RuleArn>([^<]+)<\/RuleArn>/.exec(xml)?.[1];
        const given = transformsXml(params);
        if (arn && given) this.byRule.set(xmlUnescape(arn), given);
        break;
      }
      case 'ModifyRule': {
        const arn = params.get('RuleArn') ?? '';
        if (params.get('ResetTransforms') === 'true') this.byRule.delete(arn);
        else if ([...params.keys()].some((k) => k === 'Transforms' || k.startsWith('Transforms.'))) {
          const given = transformsXml(params);
          if (given) this.byRule.set(arn, given);
          else this.byRule.delete(arn);
        }
        break;
      }
      case 'DeleteRule':
        this.byRule.delete(params.get('RuleArn') ?? '');
        return xml;
    }
    if (this.byRule.size === 0) return xml;
    return xml.replace(/<RuleArn>([^<]+)<\/RuleArn>/g, (whole, arn: string) => {
      const transforms = this.byRule.get(xmlUnescape(arn));
      return transforms ? `${whole}${transforms}` : whole;
    });
  }

  /** Forgets every rule (moto was reset). */
  reset(): void {
    this.byRule.clear();
  }
}
