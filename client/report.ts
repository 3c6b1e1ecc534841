/**
 * The release report: one self-contained HTML page (scripts, styles and data inlined; opens offline) with the
 * traffic timeline, each analysis metric's canary series against its reference with thresholds and verdict markers,
 * gates, alerts, the rollback and the outcome. Charts are drawn with uPlot (see README, "Release report").
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { Command } from 'commander';
import { formatDuration } from '../common/duration';
import type { Role, RoleWeights, TimelineEntry } from '../common/status';
import { withCallers } from './callers';
import { connect, resolveConnection, type ConnectionFlags } from './connection';
import { collectReportData, type CollectOptions, type ReportData } from './report-data';
import { createAwsClients, awsConfigFromEnv } from '../activities/aws-clients';
import { sourceSettingsFromEnv } from '../activities/sources/settings';

export { collectReportData, type ReportData } from './report-data';

const ROLES: Role[] = ['canary', 'baseline', 'stable'];

/** Weight per role over time: `requested` as the release asked, `verified` as read back from AWS. */
export interface WeightSeries {
  t: number[];
  requested: Partial<Record<Role, number[]>>;
  verified: Partial<Record<Role, number[]>>;
}

const WEIGHTS = /canary (\d+)%(?:, baseline (\d+)%)?, stable (\d+)%/;

/**
 * The traffic timeline from the release's timeline: every weight change (`setWeight`, `attach at weight 0`, a full
 * promotion) records the weights it verified; a rollback's restore puts all traffic back on stable; the last point
 * is the status's current requested and verified weights.
 */
export function weightSeries(timeline: TimelineEntry[], now: { requested: RoleWeights; verified: RoleWeights }, end: number): WeightSeries {
  const out: WeightSeries = { t: [], requested: {}, verified: {} };
  const hasBaseline = now.requested.baseline !== undefined || timeline.some((e) => / baseline \d+%/.test(e.detail ?? ''));
  const roles = ROLES.filter((r) => r !== 'baseline' || hasBaseline);
  const push = (t: number, req: RoleWeights, ver: RoleWeights) => {
    out.t.push(t);
    for (const r of roles) {
      (out.requested[r] ??= []).push(req[r] ?? 0);
      (out.verified[r] ??= []).push(ver[r] ?? 0);
    }
  };
  for (const e of timeline) {
    const m = e.accepted ? WEIGHTS.exec(e.detail ?? '') : null;
    if (m) {
      const w: RoleWeights = { canary: Number(m[1]), stable: Number(m[3]), ...(m[2] !== undefined ? { baseline: Number(m[2]) } : {}) };
      push(Date.parse(e.at), w, w);
    } else if (e.action === 'restored pre-release traffic') {
      const w: RoleWeights = { canary: 0, stable: 100, ...(hasBaseline ? { baseline: 0 } : {}) };
      push(Date.parse(e.at), w, w);
    }
  }
  const last = out.t[out.t.length - 1];
  if (last === undefined || end > last) push(end, out.t.length ? lastOf(out, 'requested') : now.requested, lastOf(out, 'verified', now.verified));
  return out;
}

function lastOf(s: WeightSeries, key: 'requested' | 'verified', fallback: RoleWeights = {}): RoleWeights {
  if (!s.t.length) return fallback;
  return Object.fromEntries(Object.entries(s[key]).map(([r, v]) => [r, v[v.length - 1]])) as RoleWeights;
}

/** A gate as the history shows it: a stretch of Paused / AwaitingApproval and the entry that ended it. */
export interface GateRow {
  kind: string;
  openedAt: number;
  closedAt?: number;
  by?: string;
  how?: string;
  comment?: string;
}

const GATE_ENDS =
  /^(approve|resume|promote|promote \(full\)|abort|pause ended|approval ended|manual pause ended|drift gate ended|approval timed out|inconclusive analysis ended|drift adopted)$/;

/** Gates from the phase changes: each stretch of Paused or AwaitingApproval, closed by the next gate-ending entry. */
export function gateRows(data: Pick<ReportData, 'phases' | 'status'>): GateRow[] {
  const rows: GateRow[] = [];
  const { phases, status } = data;
  phases.forEach((p, i) => {
    if (p.phase !== 'Paused' && p.phase !== 'AwaitingApproval') return;
    const next = phases[i + 1];
    const closedAt = next?.at;
    const row: GateRow = { kind: p.phase === 'AwaitingApproval' ? 'approval' : 'pause', openedAt: p.at, closedAt };
    const limit = closedAt ?? Infinity;
    // The entry that ends a gate is recorded just before (a person's message) or just after (the step's note) the phase change.
    const end = status.timeline.find((e) => e.accepted && GATE_ENDS.test(e.action) && Date.parse(e.at) >= p.at && Date.parse(e.at) <= limit + 1000);
    if (end) {
      row.by = end.by;
      row.how = end.action;
      row.comment = end.detail;
    }
    rows.push(row);
  });
  if (status.gate && !rows.some((r) => r.closedAt === undefined)) rows.push({ kind: status.gate.kind, openedAt: Date.parse(status.gate.openedAt) });
  return rows;
}

function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function iso(ms: number | undefined): string {
  return ms === undefined
    ? '—'
    : new Date(ms)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z');
}

function num(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
}

function table(head: string[], rows: string[][]): string {
  if (!rows.length) return '<p class="muted">none</p>';
  return `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</table>`;
}

function measurementRows(data: ReportData, template: string, metric: string): string[][] {
  const rows: string[][] = [];
  for (const a of data.analyses) {
    if (a.run.templateName !== template) continue;
    const m = a.run.last;
    const r = m?.metrics.find((x) => x.metric === metric);
    const s = r?.stat;
    rows.push([
      esc(m ? iso(Date.parse(m.at)) : iso(a.at)),
      esc(a.kind),
      `<span class="v-${esc(r?.verdict ?? m?.verdict ?? a.run.verdict)}">${esc(r?.verdict ?? m?.verdict ?? a.run.verdict)}</span>`,
      esc(num(r?.canary)),
      esc(`${num(r?.reference)}${r?.referenceVariant ? ` (${r.referenceVariant})` : ''}`),
      esc(r?.threshold ?? ''),
      esc(s ? `${s.verdict}; ratio ${num(s.ratioOfMeans)}; CLES ${num(s.cles)}` : '—'),
      esc(s ? (s.pValue === null ? '—' : s.pValue.toExponential(2)) : '—'),
      esc(m?.error ?? (m?.score ? `score ${m.score.score}: ${m.score.reason}` : a.run.reason)),
    ]);
  }
  return rows;
}

/** Rows kept in a measurement table: every one that did not pass, and the latest passes (the chart shows them all). */
const LATEST_ROWS = 20;

function measurementTable(data: ReportData, template: string, metric: string): string {
  const rows = measurementRows(data, template, metric);
  const keep = rows.filter((r, i) => i >= rows.length - LATEST_ROWS || !r[2]?.includes('v-pass'));
  const left = rows.length - keep.length;
  return (
    table(['measured', 'kind', 'verdict', 'canary', 'reference', 'threshold', 'judge (effect)', 'p-value', 'evidence'], keep) +
    (left ? `<p class="muted">${left} earlier passing measurement(s) not listed; their markers are on the chart.</p>` : '')
  );
}

/** The chart data the page draws; also what the page exposes as `window.canaryReport.expected` for checks. */
export function chartsOf(data: ReportData) {
  const w = weightSeries(data.status.timeline, { requested: data.status.requestedWeights, verified: data.status.verifiedWeights }, data.range.end);
  const metrics = data.metrics.map((m, i) => {
    const markers = data.analyses.flatMap((a) => {
      if (a.run.templateName !== m.template || !a.run.last) return [];
      const r = a.run.last.metrics.find((x) => x.metric === m.metric);
      return [{ t: Date.parse(a.run.last.at), v: r?.canary ?? null, verdict: r?.verdict ?? a.run.last.verdict }];
    });
    return { id: `metric-${i}`, title: `${m.metric} (${m.template})`, reference: m.reference, max: m.max, min: m.min, series: m.series, markers };
  });
  return { weights: w, metrics };
}

const CLIENT_SCRIPT = String.raw`
(function () {
  var D = JSON.parse(document.getElementById('report-data').textContent);
  var report = { charts: [], labels: {}, ready: false };
  window.canaryReport = report;
  var width = Math.min(1100, document.body.clientWidth - 40);
  var PHASE_FILL = { Paused: 'rgba(240,180,0,0.15)', AwaitingApproval: 'rgba(240,180,0,0.25)', RollingBack: 'rgba(220,40,40,0.18)',
    RolledBack: 'rgba(220,40,40,0.08)', RollbackFailed: 'rgba(220,40,40,0.3)', Promoting: 'rgba(40,160,70,0.12)', Succeeded: 'rgba(40,160,70,0.06)' };
  var VERDICT = { pass: '#2a9d48', fail: '#d62728', nodata: '#999', inconclusive: '#e6a100', error: '#7b3fa0' };
  var COLOR = { canary: '#d62728', stable: '#1f77b4', baseline: '#2ca02c' };
  function phaseBands(u) {
    var ctx = u.ctx, ph = D.phases;
    for (var i = 0; i < ph.length; i++) {
      var fill = PHASE_FILL[ph[i].phase];
      if (!fill) continue;
      var x0 = u.valToPos(ph[i].at / 1000, 'x', true);
      var x1 = u.valToPos((i + 1 < ph.length ? ph[i + 1].at : D.end) / 1000, 'x', true);
      ctx.fillStyle = fill;
      ctx.fillRect(x0, u.bbox.top, Math.max(1, x1 - x0), u.bbox.height);
    }
  }
  function align(list) {
    var seen = new Set();
    list.forEach(function (s) { s.t.forEach(function (t) { seen.add(t); }); });
    var xs = Array.from(seen).sort(function (a, b) { return a - b; });
    var idx = new Map(xs.map(function (x, i) { return [x, i]; }));
    var out = [xs.map(function (x) { return x / 1000; })];
    list.forEach(function (s) {
      var y = new Array(xs.length).fill(null);
      for (var i = 0; i < s.t.length; i++) y[idx.get(s.t[i])] = s.v[i];
      out.push(y);
    });
    return out;
  }
  function record(id, title, u, extra) {
    var series = [];
    for (var i = 1; i < u.series.length; i++) {
      series.push({ label: u.series[i].label, points: u.data[i].filter(function (v) { return v !== null && v !== undefined; }).length });
    }
    var c = { id: id, title: title, series: series };
    for (var k in extra) c[k] = extra[k];
    report.charts.push(c);
  }
  var xScale = { time: true, min: D.start / 1000, max: D.end / 1000 };
  // Traffic.
  var W = D.charts.weights, wl = [], ws = [{}];
  Object.keys(W.verified).forEach(function (role) {
    wl.push({ t: W.t, v: W.requested[role] });
    ws.push({ label: role + ' requested', stroke: COLOR[role], dash: [6, 4], width: 1, paths: uPlot.paths.stepped({ align: 1 }) });
    wl.push({ t: W.t, v: W.verified[role] });
    ws.push({ label: role + ' verified', stroke: COLOR[role], width: 2, paths: uPlot.paths.stepped({ align: 1 }) });
  });
  var wu = new uPlot({ title: 'Traffic: weight per role (%)', width: width, height: 260, scales: { x: xScale, y: { range: [0, 100] } },
    series: ws, hooks: { drawClear: [phaseBands] } }, align(wl), document.getElementById('chart-weights'));
  record('chart-weights', 'traffic', wu, {});
  // Metrics.
  D.charts.metrics.forEach(function (m) {
    var list = [], series = [{}];
    ['canary', m.reference].forEach(function (v) {
      if (!m.series[v]) return;
      list.push(m.series[v]);
      series.push({ label: v, stroke: COLOR[v], width: v === 'canary' ? 2 : 1.5, spanGaps: false });
    });
    if (!list.length) return;
    var data = align(list);
    function draw(u) {
      var ctx = u.ctx, labels = (report.labels[m.id] = []);
      ctx.save();
      [m.max, m.min].forEach(function (b) {
        if (b === null || b === undefined) return;
        var y = u.valToPos(b, 'y', true);
        ctx.strokeStyle = '#555'; ctx.setLineDash([5, 5]); ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y); ctx.stroke();
        // uPlot leaves the text alignment of its last axis label on the context: the label sets its own.
        var text = 'threshold ' + b, x = u.bbox.left + 4;
        ctx.setLineDash([]); ctx.fillStyle = '#555'; ctx.font = Math.round(11 * devicePixelRatio) + 'px sans-serif';
        ctx.textAlign = 'left'; ctx.textBaseline = 'alphabetic';
        ctx.fillText(text, x, y - 4);
        // Where the text landed, by the alignment in force when it was drawn.
        var w = ctx.measureText(text).width, a = ctx.textAlign;
        var left = a === 'center' ? x - w / 2 : a === 'right' || a === 'end' ? x - w : x;
        labels.push({ text: text, left: left, right: left + w, plotLeft: u.bbox.left, plotRight: u.bbox.left + u.bbox.width });
      });
      m.markers.forEach(function (k) {
        var x = u.valToPos(k.t / 1000, 'x', true);
        var y = k.v === null ? u.bbox.top + u.bbox.height - 6 : u.valToPos(k.v, 'y', true);
        ctx.fillStyle = VERDICT[k.verdict] || '#000'; ctx.strokeStyle = '#fff'; ctx.lineWidth = 1.5;
        ctx.beginPath(); ctx.arc(x, y, 6, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
      });
      ctx.restore();
    }
    var ymax = m.max === undefined ? null : m.max;
    var u = new uPlot({ title: m.title + ': canary vs ' + m.reference, width: width, height: 260,
      scales: { x: xScale, y: { range: function (u, lo, hi) { var top = Math.max(hi || 0, ymax === null ? 0 : ymax * 1.15); return [Math.min(0, lo || 0), top || 1]; } } },
      series: series, hooks: { drawClear: [phaseBands], draw: [draw] } }, data, document.getElementById(m.id));
    record(m.id, m.title, u, { markers: m.markers.length });
  });
  // Time from navigation start to all charts drawn, for the bench.
  report.drawnMs = performance.now();
  report.ready = true;
})();
`;

function uplotAssets(): { js: string; css: string } {
  const dir = path.dirname(require.resolve('uplot/package.json'));
  return { js: fs.readFileSync(path.join(dir, 'dist', 'uPlot.iife.min.js'), 'utf8'), css: fs.readFileSync(path.join(dir, 'dist', 'uPlot.min.css'), 'utf8') };
}

/** JSON that is safe inside a `<script>` element (no `</script>`, no `<!--`). */
function scriptJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:20px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:6px 0;font-size:13px}td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f4f4f4}.muted{color:#888}.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:600}
.o-promoted{background:#2a9d48}.o-rolled-back{background:#d62728}.o-aborted{background:#7b3fa0}.o-live{background:#1f77b4}
.v-pass{color:#2a9d48;font-weight:600}.v-fail{color:#d62728;font-weight:600}.v-inconclusive,.v-nodata{color:#b07d00;font-weight:600}.v-error{color:#7b3fa0}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px}dt{color:#666}dd{margin:0}.legend{font-size:12px;color:#555}
.alert{color:#d62728}`;

/** Where the metrics were read and, when the data's age changed what could be shown, how. */
function metricsSourceLine(data: ReportData): string {
  const src = data.metricsSource;
  if (!src) return '';
  const buckets = src.minPeriodSeconds ? `, buckets of at least ${formatDuration(src.minPeriodSeconds * 1000)}` : '';
  const where = `<p class="legend">Metrics read in ${esc(src.region)}${src.roleArn ? ` as ${esc(src.roleArn)}` : ''}${buckets}.</p>`;
  return src.note ? `${where}\n<p class="alert">${esc(src.note)}</p>` : where;
}

/** Renders the report page from its data (pure but for reading uPlot's files). */
export function renderReport(data: ReportData): string {
  const { status } = data;
  const result = status.result;
  const charts = chartsOf(data);
  const { js, css } = uplotAssets();
  const outcome = result?.outcome ?? (data.live ? 'live' : status.phase);
  const durations: string[][] = data.phases.map((p, i) => {
    const next = data.phases[i + 1]?.at ?? data.range.end;
    return [esc(p.phase), esc(iso(p.at)), esc(formatDuration(next - p.at))];
  });
  const alerts = status.timeline.filter((e) => !e.accepted || /ALERT|drift/.test(e.action));
  // The start and every message people sent, with how the sender is known (a verified signature, a client identity).
  const steering = withCallers(status.timeline, data.messages ?? []).filter((e) => e.callerIdentity !== undefined || e.signed);
  const rbIndex = status.timeline.findIndex((e) => e.action === 'rollback');
  const rollbackDid = rbIndex < 0 ? [] : status.timeline.slice(rbIndex);
  const timelineRows = (entries: TimelineEntry[]) =>
    entries.map((e) => [esc(iso(Date.parse(e.at))), esc(e.by), `${e.accepted ? '' : '<span class="alert">✗ </span>'}${esc(e.action)}`, esc(e.detail ?? '')]);
  const metricSections = data.metrics
    .map(
      (
        m,
        i,
      ) => `<h3>${esc(m.metric)} <span class="muted">(template ${esc(m.template)}; canary vs ${esc(m.reference)}${m.max !== undefined ? `; max ${num(m.max)}` : ''}${
        m.min !== undefined ? `; min ${num(m.min)}` : ''
      })</span></h3>
${m.error ? `<p class="alert">${esc(m.error)}</p>` : ''}<div id="metric-${i}"></div>
${measurementTable(data, m.template, m.metric)}`,
    )
    .join('\n');
  const payload = { start: data.range.start, end: data.range.end, phases: data.phases, charts };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(`${status.service} ${status.version} — release report`)}</title>
<style>${css}</style><style>${STYLE}</style></head>
<body>
<h1>${esc(status.service)} ${esc(status.version)} <span class="badge o-${esc(outcome)}">${esc(outcome)}</span></h1>
<dl>
<dt>release</dt><dd>${esc(data.releaseId)}${data.uiLink ? ` — <a href="${esc(data.uiLink)}">Temporal UI</a>` : ''} (${data.runs.length} run${data.runs.length > 1 ? 's' : ''})</dd>
<dt>phase</dt><dd>${esc(status.phase)}, step ${Math.min(status.step + 1, status.steps.length)}/${status.steps.length}${data.live ? ' (live: report generated while the release runs)' : ''}</dd>
<dt>initiator</dt><dd>${esc(status.initiator)}</dd>
<dt>started</dt><dd>${esc(iso(data.range.start))}</dd>
<dt>${data.live ? 'generated' : 'ended'}</dt><dd>${esc(iso(data.range.end))} (${esc(formatDuration(data.range.end - data.range.start))})</dd>
${
  result
    ? `<dt>outcome</dt><dd>${esc(result.outcome)}: ${esc(result.reason)}${result.by ? ` (by ${esc(result.by)})` : ''}; ${result.stepsCompleted}/${result.steps} steps in ${esc(formatDuration(result.durationMs))}</dd>
<dt>final forward</dt><dd>${esc(result.finalForward.map((f) => `${f.name}=${f.weight}`).join(', '))}</dd>`
    : ''
}
${result?.warnings?.length ? `<dt>warnings</dt><dd class="alert">${esc(result.warnings.join('; '))}</dd>` : ''}
</dl>
<h2>Traffic</h2>
<p class="legend">Dashed: requested, solid: verified by a describe. Shaded: yellow paused / awaiting approval, red rolling back, green promoting.</p>
${status.timeline
  .filter((e) => e.action === 'stickiness')
  .map((e) => `<p class="alert">Sticky users: ${esc(e.detail ?? '')}</p>`)
  .join('')}
<div id="chart-weights"></div>
<h2>Analysis</h2>
<p class="legend">Markers: the last measurement of each analysis run, coloured by verdict (green pass, red fail, amber inconclusive / no data, purple error). Dashed line: the threshold.</p>
${metricsSourceLine(data)}
${metricSections || '<p class="muted">no metric series (no analysis, or no CloudWatch access)</p>'}
<h2>Gates</h2>
${table(
  ['kind', 'opened', 'closed', 'by', 'how', 'comment'],
  gateRows(data).map((g) => [
    esc(g.kind),
    esc(iso(g.openedAt)),
    esc(g.closedAt === undefined ? 'open' : iso(g.closedAt)),
    esc(g.by ?? ''),
    esc(g.how ?? ''),
    esc(g.comment ?? ''),
  ]),
)}
<h2>Who steered the release</h2>
<p class="legend">Signature: checked by the release against the sender's key in approverKeys. Client identity: what the sender's Temporal client said it was (recorded by the server, checked only if the server's authorizer does).</p>
${table(
  ['at', 'by', 'action', 'detail', 'signature', 'client identity'],
  steering.map((e) => [
    esc(iso(Date.parse(e.at))),
    esc(e.by),
    `${e.accepted ? '' : '<span class="alert">✗ </span>'}${esc(e.action)}`,
    esc(e.detail ?? ''),
    esc(e.signed ? `verified ${e.signed.key}` : 'unsigned'),
    esc(e.callerIdentity === undefined ? 'unknown' : e.callerIdentity || '(none given)'),
  ]),
)}
<h2>Alerts, drift and ignored messages</h2>
${table(['at', 'by', 'action', 'detail'], timelineRows(alerts))}
<h2>Rollback</h2>
<h3>Plan (what is left to undo)</h3>
${status.rollbackPlan.length ? `<ol>${status.rollbackPlan.map((r) => `<li>${esc(r.description)}</li>`).join('')}</ol>` : '<p class="muted">nothing to undo</p>'}
<h3>What rollback did</h3>
${rbIndex < 0 ? '<p class="muted">no rollback</p>' : table(['at', 'by', 'action', 'detail'], timelineRows(rollbackDid))}
${status.rollbackError ? `<p class="alert">rollback error: ${esc(status.rollbackError)}</p>` : ''}
<h2>Phases</h2>
${table(['phase', 'from', 'for'], durations)}
<h2>Timeline</h2>
${table(['at', 'by', 'action', 'detail'], timelineRows(status.timeline))}
<p class="muted">Generated ${esc(iso(data.generatedAt))} by canary report.</p>
<script id="report-data" type="application/json">${scriptJson(payload)}</script>
<script>${js}</script>
<script>${CLIENT_SCRIPT}</script>
</body></html>
`;
}

/** Options of {@link writeReport}. */
export interface WriteReportOptions {
  client: Client;
  release: string;
  out: string;
  namespace?: string;
  uiUrl?: string;
  cloudwatch?: CollectOptions['cloudwatch'];
  sources?: CollectOptions['sources'];
}

/** Collects a release's data, renders the page and writes it; returns the file's absolute path. The demo calls this. */
export async function writeReport(opts: WriteReportOptions): Promise<string> {
  const data = await collectReportData(opts);
  const file = path.resolve(opts.out);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, renderReport(data));
  return file;
}

/**
 * `canary report <release> [--out report.html]`: the CLI command. Connection flags come from the parent program's
 * global options (`--address`, `--namespace`, `--profile`, `--ui-url`) when it has them; CloudWatch in the release's
 * region, as the release's role when its spec names one (assumed, as the worker does, with the credentials of the AWS
 * environment: AWS_ENDPOINT_URL, the SDK's credential chain).
 */
export function reportCommand(): Command {
  return new Command('report')
    .description('write a self-contained HTML report of a release: traffic, metrics with verdicts, gates, rollback, outcome')
    .argument('<release>', 'release id (release-checkout) or service name')
    .option('--out <file>', 'where to write the page', 'report.html')
    .action(async (release: string, opts: { out: string }, cmd: Command) => {
      const flags = (cmd.optsWithGlobals() as ConnectionFlags) ?? {};
      const resolved = resolveConnection(flags);
      const { client, connection } = await connect(resolved);
      const awsClients = createAwsClients(awsConfigFromEnv());
      try {
        const file = await writeReport({
          client,
          release,
          out: opts.out,
          namespace: resolved.namespace,
          uiUrl: resolved.uiUrl,
          cloudwatch: async (scope, sessionName) => (await awsClients.clientsFor(scope, sessionName)).cloudwatch,
          // The same variables as the worker's: run the report where they are set to chart Prometheus and web metrics.
          sources: sourceSettingsFromEnv(),
        });
        process.stdout.write(`report written to ${file}\n`);
      } finally {
        awsClients.destroy();
        await connection.close();
      }
    });
}
