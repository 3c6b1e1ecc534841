/**
 * Recorded CloudWatch answers for what moto cannot compute: GetMetricData with extended statistics (p99, TM(...))
 * or metric math functions (FILL, IF, ...). moto answers 500 to a percentile and evaluates only bare references,
 * so those paths are tested against responses in CloudWatch's own wire format (AWS JSON 1.0 bodies, exactly as
 * GetMetricData returns them), served by the dev proxy (fault-proxy.ts) in place of moto for the one request each
 * was recorded for. The SDK, its parser and all of canary's code run as they would against AWS.
 *
 * A fixture file (test/fixtures/cloudwatch/*.json):
 * `{ "about": "...", "request": <the GetMetricData request body>, "response": <the response body> }`.
 * A request matches when its MetricDataQueries, StartTime and EndTime equal the recorded ones (key order and
 * timestamp spelling aside); anything else goes on to moto.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface RecordedGetMetricData {
  about: string;
  /** GetMetricData's request body as the SDK sends it (AWS JSON 1.0; timestamps in epoch seconds). */
  request: { MetricDataQueries: unknown[]; StartTime: number | string; EndTime: number | string; [k: string]: unknown };
  /** GetMetricData's response body as CloudWatch returns it. */
  response: { MetricDataResults: unknown[]; Messages?: unknown[]; NextToken?: string };
}

/** An answer the proxy sends instead of forwarding. */
export interface RecordedAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Reads fixture files; throws naming the file when one is not shaped like a recording. */
export function loadCloudWatchFixtures(files: string[]): RecordedGetMetricData[] {
  return files.map((file) => {
    const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<RecordedGetMetricData>;
    if (!doc.request || !Array.isArray(doc.request.MetricDataQueries) || !doc.response || !Array.isArray(doc.response.MetricDataResults)) {
      throw new Error(`${path.basename(file)}: a CloudWatch fixture has request.MetricDataQueries and response.MetricDataResults`);
    }
    return doc as RecordedGetMetricData;
  });
}

/** JSON with sorted keys, so two bodies that differ only in key order compare equal. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Epoch seconds of a JSON 1.0 timestamp (a number, or an ISO string in a hand-edited fixture). */
function seconds(t: unknown): number {
  return typeof t === 'number' ? t : Date.parse(String(t)) / 1000;
}

/**
 * A responder for the dev proxy: the recorded response of the fixture matching a GetMetricData request, else
 * undefined (the request goes on to moto). `served` counts answers per fixture, for tests to check it was used.
 */
export function cloudWatchFixtureResponder(fixtures: RecordedGetMetricData[]): {
  respond(action: string, body: Buffer): RecordedAnswer | undefined;
  served(): number[];
} {
  const served = fixtures.map(() => 0);
  const keys = fixtures.map((f) => `${canonical(f.request.MetricDataQueries)}|${seconds(f.request.StartTime)}|${seconds(f.request.EndTime)}`);
  return {
    respond(action, body) {
      if (action !== 'GetMetricData') return undefined;
      let req: RecordedGetMetricData['request'];
      try {
        req = JSON.parse(body.toString('utf8')) as RecordedGetMetricData['request'];
      } catch {
        return undefined;
      }
      const key = `${canonical(req.MetricDataQueries)}|${seconds(req.StartTime)}|${seconds(req.EndTime)}`;
      const i = keys.indexOf(key);
      const fixture = fixtures[i];
      if (!fixture) return undefined;
      served[i] = (served[i] ?? 0) + 1;
      const text = JSON.stringify(fixture.response);
      return {
        status: 200,
        headers: { 'content-type': 'application/x-amz-json-1.0', 'content-length': String(Buffer.byteLength(text)), 'x-amzn-requestid': `fixture-${i}` },
        body: text,
      };
    },
    served: () => [...served],
  };
}
