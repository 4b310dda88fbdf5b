// Text the agent shows: byte sizes, ages, the progress bar, the one-line live status and kubectl-style tables. Pure:
// colours come in as a Style (plain when the output is not a terminal or NO_COLOR is set), time as an argument.
import type { SyncMode } from '../sync/config.ts';
import { podErrorsSummary } from './pod-side.ts';
import { phaseOf, progressOf, type Phase, type SyncView } from './progress.ts';

export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  cyan(s: string): string;
}

const id = (s: string): string => s;
export const PLAIN: Style = { bold: id, dim: id, green: id, yellow: id, red: id, cyan: id };

const sgr = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;
export const COLOUR: Style = { bold: sgr(1, 22), dim: sgr(2, 22), green: sgr(32, 39), yellow: sgr(33, 39), red: sgr(31, 39), cyan: sgr(36, 39) };

/** Colour only on a terminal, never with NO_COLOR set, always with FORCE_COLOR set (like most CLIs). */
export function chooseStyle(isTty: boolean, env: NodeJS.ProcessEnv): Style {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return PLAIN;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return COLOUR;
  return isTty && env.TERM !== 'dumb' ? COLOUR : PLAIN;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(n: number): string {
  let value = Math.max(0, n);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** `45s`, `12m`, `3h5m`, `2d4h`: kubectl's AGE style, two units at most. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
}

export function progressBar(percent: number, width: number): string {
  const filled = Math.round((Math.min(100, Math.max(0, percent)) / 100) * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

export const SPINNER_FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** The line shown while the first full sync runs. */
export function renderProgressLine(view: SyncView, mode: SyncMode, style: Style): string {
  const phase = phaseOf(view, mode);
  if (phase === 'scanning') {
    const scan = view.scan;
    const detail = scan && scan.total > 0 ? ` ${formatBytes(scan.current)}/${formatBytes(scan.total)}` : '';
    return `scanning local files${detail}`;
  }
  if (phase === 'connecting') return 'connecting to the pod’s syncthing';
  const p = progressOf(view, mode);
  const files = `${formatCount(p.files.done)}/${formatCount(p.files.total)} files`;
  const bytes = `${formatBytes(p.bytes.done)}/${formatBytes(p.bytes.total)}`;
  return `syncing ${style.cyan(progressBar(p.percent, 20))} ${p.percent.toFixed(1)}%  ${files}  ${bytes}${podSideText(view, style)}`;
}

/** ` · pod side: <what> (+N more)` in red while the sidecar reports errors; empty otherwise. */
function podSideText(view: SyncView, style: Style): string {
  const summary = podErrorsSummary(view.podErrors);
  return summary === '' ? '' : ` · ${style.red(summary)}`;
}

export interface StatusContext {
  pod: string;
  mode: SyncMode;
  /** `HH:MM:SS` of an ISO time, in local time; an argument so the render stays pure. */
  clock: (iso: string) => string;
}

const PHASE_MARK: Record<Phase, (s: Style) => string> = {
  'in-sync': (s) => s.green('●'),
  syncing: (s) => s.cyan('●'),
  scanning: (s) => s.cyan('●'),
  connecting: (s) => s.yellow('●'),
  error: (s) => s.red('●'),
};

function lastChangeText(view: SyncView, ctx: StatusContext): string {
  const c = view.lastChange;
  if (!c) return '';
  const arrow = c.direction === 'out' ? '→ pod' : '← pod';
  const when = c.time ? ` ${ctx.clock(c.time)}` : '';
  return ` · last: ${c.deleted ? 'deleted ' : ''}${c.path} ${arrow}${when}`;
}

/** The one-line live status after the first full sync. */
export function renderStatusLine(view: SyncView, ctx: StatusContext, style: Style): string {
  const phase = phaseOf(view, ctx.mode);
  // The pod side's errors do not change the phase (the local end may well be done) but they do mean trouble.
  const mark = view.podErrors.length > 0 ? style.red('●') : PHASE_MARK[phase](style);
  const words: Record<Phase, string> = {
    'in-sync': 'in sync',
    syncing: 'syncing',
    scanning: 'scanning',
    connecting: 'reconnecting',
    error: `error: ${view.errors[0] ?? view.state}`,
  };
  const totals = `${formatCount(view.global.items)} files, ${formatBytes(view.global.bytes)}`;
  return `${mark} ${style.bold(words[phase])} · ${totals} · pod ${ctx.pod} (${ctx.mode})${podSideText(view, style)}${lastChangeText(view, ctx)}`;
}

/** Columns padded like `kubectl get` (three spaces between columns), headers first. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

const ANSI = /\u001b\[[0-9;]*m/y;

/** `s` cut to `width` visible characters (escape sequences kept, a reset appended when cut), so a line never wraps. */
export function fitToWidth(s: string, width: number): string {
  let out = '';
  let visible = 0;
  for (let i = 0; i < s.length; ) {
    ANSI.lastIndex = i;
    const esc = ANSI.exec(s);
    if (esc) {
      out += esc[0];
      i += esc[0].length;
      continue;
    }
    if (visible === width) return out.includes('\u001b') ? `${out}\u001b[0m` : out;
    const ch = String.fromCodePoint(s.codePointAt(i) ?? 32);
    out += ch;
    visible++;
    i += ch.length;
  }
  return out;
}
