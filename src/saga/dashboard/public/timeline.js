import { useEffect, useRef } from 'preact/hooks';
import { duration } from './format.js';
import { html } from './html.js';

const COLORS = {
  attempt: '#2f9e5b',
  failed: '#d64545',
  running: '#3b82f6',
  backoff: '#aab4c3',
  wait: '#e8a33d',
  child: '#8b5cf6',
  compensation: '#f08c00',
  skipped: '#94a3b8',
};
const LEGEND = {
  attempt: 'attempt ok',
  failed: 'attempt failed',
  running: 'running',
  backoff: 'retry backoff',
  wait: 'waiting for a signal',
  child: 'child saga',
  compensation: 'compensation',
};
const MARKED = {
  cancel_requested: 'cancel',
  saga_compensating: 'compensating',
  saga_completed: 'completed',
  saga_compensated: 'compensated',
  saga_failed: 'failed',
  saga_retried: 'retried',
};

/**
 * The saga's run as bars on a time axis, one row per step and one per compensation, built from
 * its event history: each attempt (failed ones red, with their error), the backoff before the
 * next, waits for a signal, child sagas (click to open), compensations in the order they ran.
 * Steps of a parallel group share a shaded band, so that their bars show side by side in time.
 */
export function Timeline({ view, events, live }) {
  const element = useRef();
  const chart = useRef();
  useEffect(() => {
    chart.current = globalThis.echarts.init(element.current, null, { renderer: 'svg' });
    chart.current.on('click', (params) => {
      if (params.data?.childId) location.hash = `#/sagas/${params.data.childId}`;
    });
    const resize = () => chart.current.resize();
    addEventListener('resize', resize);
    return () => {
      removeEventListener('resize', resize);
      chart.current.dispose();
    };
  }, []);
  useEffect(() => {
    const draw = () => chart.current.setOption(optionFor(view, events), { replaceMerge: ['series'] });
    draw();
    if (!live) return undefined;
    // Open bars grow with the clock while the saga runs.
    const timer = setInterval(draw, 500);
    return () => clearInterval(timer);
  }, [view, events, live]);
  const rows = rowsOf(view, events).length;
  return html`<div
    class="timeline"
    ref=${element}
    style="height: ${Math.max(174, rows * 30 + 104)}px"
  ></div>`;
}

function rowsOf(view, events) {
  const undo = [];
  for (const e of events)
    if (e.type === 'compensation_started' && !undo.includes(`↩ ${e.step}`)) undo.push(`↩ ${e.step}`);
  return [...(view.steps ?? []).map((s) => s.name), ...undo];
}

/** Bars from the events: [row, start ms, end ms, kind, details]. */
function segmentsOf(events, origin, now) {
  const segments = [];
  const open = new Map();
  const close = (row, at, kind, extra = {}) => {
    const bar = open.get(row);
    if (!bar) return;
    open.delete(row);
    segments.push({ ...bar, end: at, kind: kind ?? bar.kind, ...extra });
  };
  const begin = (row, at, kind, extra = {}) => {
    close(row, at);
    open.set(row, { row, start: at, kind, ...extra });
  };
  for (const e of events) {
    const at = Date.parse(e.at) - origin;
    const undo = `↩ ${e.step}`;
    const error = e.data?.error;
    switch (e.type) {
      case 'step_started':
        begin(e.step, at, 'attempt', { attempt: e.attempt });
        break;
      case 'step_completed':
        close(e.step, at, undefined, { done: true });
        break;
      case 'step_failed':
        close(e.step, at, 'failed', { error });
        if (e.data?.retryInMs !== undefined)
          begin(e.step, at, 'backoff', { plannedEnd: at + e.data.retryInMs });
        break;
      case 'step_waiting':
        begin(e.step, at, 'wait', { signal: e.data?.signal });
        break;
      case 'child_started':
        begin(e.step, at, 'child', { childId: e.data?.childId });
        break;
      case 'step_skipped':
        close(e.step, at);
        segments.push({ row: e.step, start: at, end: at, kind: 'skipped' });
        break;
      case 'compensation_started':
        begin(undo, at, 'compensation', { attempt: e.attempt });
        break;
      case 'compensation_completed':
        close(undo, at, undefined, { done: true });
        break;
      case 'compensation_failed':
        close(undo, at, 'failed', { error });
        if (e.data?.retryInMs !== undefined)
          begin(undo, at, 'backoff', { plannedEnd: at + e.data.retryInMs });
        break;
    }
  }
  // What is still open runs now; a backoff ends when its next attempt is due.
  for (const bar of open.values())
    segments.push({
      ...bar,
      end: bar.kind === 'backoff' ? Math.min(bar.plannedEnd, now) : now,
      kind: bar.kind === 'attempt' ? 'running' : bar.kind,
      open: true,
    });
  return segments;
}

function optionFor(view, events) {
  const origin = Date.parse(view.createdAt);
  const terminal = ['completed', 'compensated', 'failed'].includes(view.status);
  const now = (terminal && view.completedAt ? Date.parse(view.completedAt) : Date.now()) - origin;
  const rows = rowsOf(view, events);
  const groupOf = Object.fromEntries((view.steps ?? []).map((s) => [s.name, s.group]));
  const segments = segmentsOf(events, origin, now).filter((s) => rows.includes(s.row));
  const groups = [...new Set((view.steps ?? []).filter((s) => s.group).map((s) => s.group))];
  const data = segments.map((s) => ({
    ...s,
    value: [rows.indexOf(s.row), s.start, Math.max(s.end, s.start)],
  }));
  return {
    animation: false,
    grid: { left: 150, right: 40, top: 48, bottom: 52 },
    // A day's wait for a person next to steps of milliseconds: zoom in with the wheel or the slider.
    dataZoom: [
      { type: 'inside', xAxisIndex: 0, filterMode: 'none' },
      {
        type: 'slider',
        xAxisIndex: 0,
        filterMode: 'none',
        height: 16,
        bottom: 6,
        labelFormatter: (v) => duration(v),
      },
    ],
    legend: {
      top: 0,
      data: Object.entries(LEGEND).map(([kind, name]) => ({ name, itemStyle: { color: COLORS[kind] } })),
      selectedMode: false,
      textStyle: { fontSize: 11 },
    },
    tooltip: { formatter: (p) => tooltipOf(p.data) },
    xAxis: {
      type: 'value',
      min: 0,
      max: Math.max(now, 1),
      // The end of the axis (now, or the saga's end) is labelled; a tick too close to it is not.
      axisLabel: { formatter: (v) => duration(v), hideOverlap: true },
      splitLine: { lineStyle: { type: 'dashed' } },
    },
    yAxis: {
      type: 'category',
      inverse: true,
      data: rows,
      axisTick: { show: false },
      axisLabel: {
        formatter: (name) => (groupOf[name] ? `{group|${groupOf[name]} ⇉} ${name}` : name),
        rich: { group: { color: '#7c3aed', fontSize: 10 } },
      },
    },
    series: [
      {
        type: 'custom',
        renderItem: (params, api) => barOf(data[params.dataIndex], api),
        encode: { x: [1, 2], y: 0 },
        data,
        markArea: {
          silent: true,
          itemStyle: { color: 'rgba(124, 58, 237, 0.07)' },
          label: { show: false },
          data: groups.map((group) => {
            const members = rows.filter((r) => groupOf[r] === group);
            return [{ yAxis: members[0] }, { yAxis: members.at(-1) }];
          }),
        },
        markLine: {
          silent: true,
          symbol: 'none',
          // Above the rows (the y axis is inverted: a line starts at the top), clear of the time axis's labels.
          label: { formatter: '{b}', fontSize: 10, position: 'start' },
          lineStyle: { color: '#64748b', type: 'dotted' },
          data: events
            .filter((e) => MARKED[e.type])
            .map((e) => ({ name: MARKED[e.type], xAxis: Date.parse(e.at) - origin })),
        },
      },
      // Empty series, so that the legend shows the colours.
      ...Object.entries(LEGEND).map(([kind, name]) => ({
        type: 'custom',
        name,
        data: [],
        renderItem: () => undefined,
        itemStyle: { color: COLORS[kind] },
      })),
    ],
  };
}

function barOf(s, api) {
  const start = api.coord([s.start, s.value[0]]);
  const end = api.coord([s.value[2], s.value[0]]);
  const height = api.size([0, 1])[1] * 0.56;
  const text = labelOf(s);
  return {
    type: 'rect',
    shape: { x: start[0], y: start[1] - height / 2, width: Math.max(end[0] - start[0], 3), height, r: 3 },
    style: { fill: COLORS[s.kind], opacity: s.kind === 'backoff' ? 0.55 : 1 },
    textContent: text ? { style: { text, fill: '#1f2937', fontSize: 11 } } : undefined,
    textConfig: text ? { position: 'insideLeft' } : undefined,
  };
}

function labelOf(s) {
  if (s.kind === 'wait') return `waits for ${s.signal}`;
  if (s.kind === 'child') return 'child saga ↗';
  return s.kind === 'skipped' ? 'skipped' : '';
}

function tooltipOf(s) {
  if (!s) return '';
  const title = {
    attempt: `attempt ${s.attempt ?? ''} ok`,
    running: `attempt ${s.attempt ?? ''} running`,
    failed: `attempt ${s.attempt ?? ''} failed`,
    backoff: 'backoff before the next attempt',
    wait: `waiting for signal "${s.signal}"`,
    child: 'child saga (click to open)',
    compensation: `compensation attempt ${s.attempt ?? ''}${s.done ? ' ok' : ''}`,
    skipped: 'skipped by an operator',
  }[s.kind];
  const error = s.error ? `<br/><b>${escape(s.error.name)}</b>: ${escape(s.error.message)}` : '';
  return `<b>${escape(s.row)}</b><br/>${title}<br/>${duration(s.end - s.start)}${s.open ? ' so far' : ''}${error}`;
}

const escape = (text) =>
  String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
