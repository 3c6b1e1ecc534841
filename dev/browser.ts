/**
 * Debian's chromium, driven by playwright-core (nothing downloaded at run time), for opening release reports in
 * tests and the bench.
 */
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags for a quiet, offline headless run as root in CI. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

/** What the report page exposes on `window.canaryReport` once it has drawn. */
export interface DrawnReport {
  ready: boolean;
  /** performance.now() when every chart had drawn: ms since navigation start. */
  drawnMs?: number;
  charts: { id: string; title: string; series: { label: string; points: number }[]; markers?: number }[];
  /** Per metric chart, the threshold labels as last drawn, in canvas pixels, with the plot area's edges. */
  labels: Record<string, { text: string; left: number; right: number; plotLeft: number; plotRight: number }[]>;
}
