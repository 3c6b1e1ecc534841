/**
 * The metric math we evaluate ourselves (moto, and our judge, need the inputs, not a server-side result):
 * query ids, numbers, + - * /, unary minus and parentheses, e.g. `errors / requests`, `100 * (a + b) / c`.
 * Workflow-safe: no eval.
 */
export type Expr = { op: 'num'; value: number } | { op: 'ref'; id: string } | { op: 'neg'; arg: Expr } | { op: '+' | '-' | '*' | '/'; left: Expr; right: Expr };

const TOKEN = /\s*(?:(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([a-z][a-zA-Z0-9_]*)|([-+*/()]))/y;

/** Parses an expression; throws an Error whose message says where it went wrong. */
export function parseExpression(text: string): Expr {
  if (text.length > 500) throw new Error('expression is longer than 500 characters');
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < text.length) {
    if (/^\s*$/.test(text.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(text);
    if (!m) throw new Error(`unexpected character at position ${pos + 1} in "${text}" (supported: query ids, numbers, + - * / and parentheses)`);
    tokens.push(m[1] ?? m[2] ?? m[3] ?? '');
    pos = TOKEN.lastIndex;
  }
  let i = 0;
  const peek = (): string | undefined => tokens[i];
  const next = (): string | undefined => tokens[i++];

  function factor(): Expr {
    const t = next();
    if (t === undefined) throw new Error(`"${text}" ends too early`);
    if (t === '-') return { op: 'neg', arg: factor() };
    if (t === '(') {
      const inner = sum();
      if (next() !== ')') throw new Error(`missing ")" in "${text}"`);
      return inner;
    }
    if (/^\d/.test(t)) return { op: 'num', value: Number(t) };
    if (/^[a-z]/.test(t)) return { op: 'ref', id: t };
    throw new Error(`unexpected "${t}" in "${text}"`);
  }
  function product(): Expr {
    let left = factor();
    while (peek() === '*' || peek() === '/') {
      const op = next() as '*' | '/';
      left = { op, left, right: factor() };
    }
    return left;
  }
  function sum(): Expr {
    let left = product();
    while (peek() === '+' || peek() === '-') {
      const op = next() as '+' | '-';
      left = { op, left, right: product() };
    }
    return left;
  }
  const expr = sum();
  if (i < tokens.length) throw new Error(`unexpected "${tokens[i]}" in "${text}"`);
  return expr;
}

/** The query ids an expression reads. */
export function referencedIds(expr: Expr): string[] {
  switch (expr.op) {
    case 'num':
      return [];
    case 'ref':
      return [expr.id];
    case 'neg':
      return referencedIds(expr.arg);
    default:
      return [...referencedIds(expr.left), ...referencedIds(expr.right)];
  }
}

/** Evaluates with the given values; a missing id or a division by zero gives NaN (no data), never Infinity. */
export function evaluate(expr: Expr, values: Record<string, number | undefined>): number {
  switch (expr.op) {
    case 'num':
      return expr.value;
    case 'ref':
      return values[expr.id] ?? NaN;
    case 'neg':
      return -evaluate(expr.arg, values);
    case '+':
      return evaluate(expr.left, values) + evaluate(expr.right, values);
    case '-':
      return evaluate(expr.left, values) - evaluate(expr.right, values);
    case '*':
      return evaluate(expr.left, values) * evaluate(expr.right, values);
    case '/': {
      const d = evaluate(expr.right, values);
      return d === 0 ? NaN : evaluate(expr.left, values) / d;
    }
  }
}

/**
 * Functions and keywords of CloudWatch metric math. An expression that uses any of them (or anything else the
 * local grammar above does not know) is sent to CloudWatch, which evaluates it; canary only checks its shape.
 */
const CLOUDWATCH_WORDS = new Set([
  'ABS',
  'ANOMALY_DETECTION_BAND',
  'AVG',
  'CEIL',
  'DATAPOINT_COUNT',
  'DATE',
  'DAY',
  'DB_PERF_INSIGHTS',
  'DIFF',
  'DIFF_TIME',
  'EPOCH',
  'FILL',
  'FIRST',
  'FLOOR',
  'HOUR',
  'IF',
  'INSIGHT_RULE_METRIC',
  'LAMBDA',
  'LAST',
  'LOG',
  'LOG10',
  'MAX',
  'METRIC_COUNT',
  'METRICS',
  'MIN',
  'MINUTE',
  'MONTH',
  'PERIOD',
  'RATE',
  'REMOVE_EMPTY',
  'RUNNING_SUM',
  'SEARCH',
  'SERVICE_QUOTA',
  'SLICE',
  'SORT',
  'STDDEV',
  'SUM',
  'TIME_SERIES',
  // arguments and operators spelled as words
  'REPEAT',
  'LINEAR',
  'ASC',
  'DESC',
  'AND',
  'OR',
  'NOT',
]);

const CW_TOKEN = /\s*(?:('[^']*'|"[^"]*")|(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(==|!=|<=|>=|&&|\|\||[-+*/^()[\],<>!]))/y;

/** Where an expression is evaluated: by canary over the window's values (plain arithmetic), or by CloudWatch. */
export function expressionEvaluator(text: string): 'local' | 'cloudwatch' {
  try {
    parseExpression(text);
    return 'local';
  } catch {
    return 'cloudwatch';
  }
}

/**
 * Checks the shape of an expression CloudWatch will evaluate (known functions, balanced brackets, quoted strings)
 * and returns the query ids it reads. Throws an Error saying what is wrong.
 */
export function parseCloudWatchExpression(text: string): { ids: string[] } {
  if (text.length > 500) throw new Error('expression is longer than 500 characters');
  if (/^\s*SELECT\b/i.test(text))
    throw new Error('Metrics Insights queries (SELECT ...) are not supported in an analysis; use metric math over MetricStat queries');
  const ids: string[] = [];
  const stack: string[] = [];
  let pos = 0;
  while (pos < text.length) {
    if (/^\s*$/.test(text.slice(pos))) break;
    CW_TOKEN.lastIndex = pos;
    const m = CW_TOKEN.exec(text);
    if (!m) throw new Error(`unexpected character at position ${pos + 1} in "${text}"`);
    pos = CW_TOKEN.lastIndex;
    const [, , , word, op] = m;
    if (word) {
      if (/^[a-z]/.test(word)) ids.push(word);
      else if (!CLOUDWATCH_WORDS.has(word)) throw new Error(`unknown metric math function or keyword "${word}" in "${text}"`);
    } else if (op === '(' || op === '[') {
      stack.push(op);
    } else if (op === ')' || op === ']') {
      const open = stack.pop();
      if ((op === ')' && open !== '(') || (op === ']' && open !== '[')) throw new Error(`unbalanced "${op}" in "${text}"`);
    }
  }
  if (stack.length) throw new Error(`missing "${stack[stack.length - 1] === '(' ? ')' : ']'}" in "${text}"`);
  return { ids: [...new Set(ids)] };
}
