/**
 * `trace`'s text output: the packet, the rules and node state used, each outcome with its path from
 * where it parts from an earlier one, what it assumed, why, and a result grouped by assumption.
 */
import type { TraceExplanation } from '@svcrules/core';
import { formatPercent } from '@svcrules/iptables';
import { markedBy, scenariosOf, type AnyRuleRef, type AnyTraceEvent, type AnyTraceOutcome, type AnyTraceResult, type TraceContext } from './trace-json.js';

type TraceOutcome = AnyTraceOutcome;
type TraceEvent = AnyTraceEvent;

/**
 * The rule in nat POSTROUTING that let the packet through without SNAT (KUBE-POSTROUTING's RETURN;
 * in nftables mode the `masquerading` chain's return), if any.
 */
function notMasqueradedBy(o: TraceOutcome): AnyRuleRef | null {
  const events: readonly TraceEvent[] = o.events;
  const ret = [...events].reverse().find((e) => ((e.hook === 'POSTROUTING' && e.table === 'nat') || e.hook === 'postrouting') && e.effect === 'return' && e.rule);
  return ret?.rule ?? null;
}

function outcomeLabel(o: TraceOutcome): string {
  if (o.verdict === 'UNKNOWN') return `UNKNOWN ${o.destination}`;
  if (o.verdict !== 'ACCEPT') return o.verdict;
  if (o.dnat) return o.destination;
  return `ACCEPT ${o.destination}`;
}

function deliveryText(o: TraceOutcome): string {
  if (o.verdict !== 'ACCEPT') return '';
  const out = o.outInterface && o.delivery !== 'local' ? ` by ${o.outInterface}` : '';
  return o.delivery === 'local' ? 'delivered on the node' : o.delivery === 'forward' ? `forwarded${out}` : `sent by the node${out}`;
}

function masqueradeText(o: TraceOutcome): string {
  if (o.verdict !== 'ACCEPT') return 'masquerade: n/a (the packet is not delivered)';
  if (o.masquerade) {
    const m = markedBy(o);
    return `masquerade: yes, by ${o.masquerade.rule.text}${m ? `\n    (mark set by ${m.text})` : ''}`;
  }
  const ret = notMasqueradedBy(o);
  return `masquerade: no${ret ? `, by ${ret.text}` : ''}`;
}

function sameEvent(a: TraceEvent, b: TraceEvent): boolean {
  return a.table === b.table && a.chain === b.chain && a.effect === b.effect && a.rule?.index === b.rule?.index && a.probability === b.probability;
}

/** The matched rules, under a `table chain` header whenever the chain changes. */
function printPath(lines: string[], events: readonly TraceEvent[]): void {
  let header = '';
  for (const e of events) {
    const h = `${e.table} ${e.chain}`;
    if (h !== header) {
      lines.push(`  ${h}`);
      header = h;
    }
    const notes: string[] = [];
    if (e.probability) notes.push(`${e.effect === 'not-taken' ? 'not taken' : 'taken'} with ${formatPercent(e.probability)}`);
    if (e.detail !== undefined && e.effect !== 'policy') notes.push(e.detail);
    lines.push(`    ${e.rule ? e.rule.text : e.detail}${notes.length > 0 ? `   [${notes.join('; ')}]` : ''}`);
  }
}

export function traceText(result: AnyTraceResult, explanation: TraceExplanation, ctx: TraceContext): string {
  const p = result.packet;
  const lines: string[] = [];
  const dst = p.dst.includes(':') ? `[${p.dst}]:${p.dport}` : `${p.dst}:${p.dport}`;
  const fromText = result.from === 'node' ? 'from the node itself (nat OUTPUT first)' : `from ${result.from === 'pod' ? 'a pod' : 'outside the node'} (nat PREROUTING first)`;
  lines.push(`packet  ${p.protocol} ${p.src} -> ${dst}, ${fromText}`);
  lines.push(`rules   ${ctx.rulesFrom}${ctx.node ? ` for node ${ctx.node}` : ''}${result.addedHooks.length > 0 ? ` (+ ${result.addedHooks.length} kube-proxy hook rules)` : ''}`);
  if (ctx.nodeState) {
    const n = ctx.nodeState;
    lines.push(`node    ${n.from}: ${n.interfaces} interfaces, ${n.routes} routes${n.ipsets !== null ? `, ${n.ipsets} ipsets` : ''}`);
  }
  lines.push(`local   ${[...ctx.localAddresses, 'loopback'].join(', ')}`);
  const n = result.outcomes.length;
  result.outcomes.forEach((o, i) => {
    lines.push('');
    lines.push(`outcome ${i + 1}/${n}  ${outcomeLabel(o)}  ${formatPercent(o.probability)}${deliveryText(o) ? `  ${deliveryText(o)}` : ''}`);
    for (const g of o.given) lines.push(`  if ${g.text}   [asked by ${g.rule.table} ${g.rule.chain} rule ${g.rule.index}]`);
    // Later outcomes share a prefix with an earlier one: print only where they part.
    let shared = 0;
    let with_ = -1;
    for (let j = 0; j < i; j++) {
      const other = result.outcomes[j]!.events;
      let k = 0;
      while (k < other.length && k < o.events.length && sameEvent(other[k]!, o.events[k]!)) k++;
      if (k > shared) {
        shared = k;
        with_ = j;
      }
    }
    // Keep the event that splits (the statistic rule taken here) in view.
    while (shared > 0 && o.events[shared - 1]!.effect === 'policy') shared--;
    if (with_ >= 0 && shared > 1) {
      const last = o.events[shared - 1]!;
      lines.push(`  (same as outcome ${with_ + 1} through ${last.table} ${last.chain}${last.rule ? ` rule ${last.rule.index}` : ''}, then:)`);
      printPath(lines, o.events.slice(shared));
    } else printPath(lines, o.events);
    lines.push(`  ${masqueradeText(o)}`);
    const why = explanation.outcomes[i] ?? [];
    if (why.length > 0) {
      lines.push('  why:');
      for (const w of why) lines.push(`    ${w}`);
    }
  });
  lines.push('');
  lines.push('result');
  const width = Math.max(...result.outcomes.map((o) => outcomeLabel(o).length));
  const row = (o: TraceOutcome, indent: string) => {
    const masq = o.verdict !== 'ACCEPT' ? '' : o.masquerade ? '  masquerade: yes' : '  masquerade: no';
    lines.push(`${indent}${outcomeLabel(o).padEnd(width)}  ${formatPercent(o.probability).padStart(6)}${masq}`);
  };
  const scenarios = scenariosOf(result);
  if (scenarios.length === 1 && scenarios[0]!.given.length === 0) for (const o of result.outcomes) row(o, '  ');
  else {
    for (const s of scenarios) {
      lines.push(s.given.length === 0 ? '  whatever is assumed elsewhere:' : `  if ${s.given.join('\n     and ')}:`);
      for (const i of s.outcomes) row(result.outcomes[i]!, '    ');
    }
  }
  for (const s of explanation.summary) lines.push(`  ${s}`);
  lines.push('assumptions');
  for (const a of result.assumptions) lines.push(`  - ${a.text}`);
  return `${lines.join('\n')}\n`;
}
