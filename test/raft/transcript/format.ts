/**
 * Readable, deterministic renderings of entries, messages, snapshots and Readys for transcripts,
 * close to etcd-io/raft's `DescribeMessage` / `DescribeReady` so that a reader of either
 * recognises them: `1->2 MsgApp Term:1 Log:1/10 Commit:10 Entries:[1/11 EntryNormal "foo"]`.
 */
import type { Entry, Message, Ready, Snapshot, TranscriptCore } from './core.ts';

/** Bytes as a quoted string when printable ASCII, else as hex. */
export function describeBytes(b: Uint8Array): string {
  let printable = true;
  for (const c of b) if (c < 0x20 || c > 0x7e || c === 0x22) printable = false;
  if (printable) return `"${String.fromCharCode(...b)}"`;
  return `0x${Array.from(b, (c) => c.toString(16).padStart(2, '0')).join('')}`;
}

/** `term/index EntryNormal "data"` or `term/index EntryConfChange v2 l3`. */
export function describeEntry(core: TranscriptCore, e: Entry): string {
  if (e.type === 'confChange') {
    let body: string;
    try {
      body = core.describeConfChange(core.decodeConfChange(e.data));
    } catch {
      body = `<undecodable ${describeBytes(e.data)}>`;
    }
    return `${e.term}/${e.index} EntryConfChange ${body}`;
  }
  return `${e.term}/${e.index} EntryNormal ${describeBytes(e.data)}`;
}

export function describeSnapshot(core: TranscriptCore, s: Snapshot): string {
  const cs = s.metadata.confState;
  const cfg = core.describeConfig({
    voters: [...cs.voters].sort((a, b) => a - b),
    votersOutgoing: [...cs.votersOutgoing].sort((a, b) => a - b),
    learners: [...cs.learners].sort((a, b) => a - b),
    learnersNext: [...cs.learnersNext].sort((a, b) => a - b),
    autoLeave: cs.autoLeave,
  });
  return `Index:${s.metadata.index} Term:${s.metadata.term} ConfState:${cfg}`;
}

/**
 * One message on one line. The `index` field means different things per type (see types.ts),
 * so heartbeats show it as the leader's `Tick`, reads as the read `Index`.
 */
export function describeMessage(core: TranscriptCore, m: Message): string {
  let s = `${m.from}->${m.to} ${m.type} Term:${m.term}`;
  switch (m.type) {
    case 'MsgHeartbeat':
    case 'MsgHeartbeatResp':
      s += ` Tick:${m.index}`;
      break;
    case 'MsgQuiesce':
      s += ` Tick:${m.index} LastTerm:${m.logTerm}`;
      break;
    case 'MsgReadIndex':
      if (m.index === 1) s += ' Lease';
      break;
    case 'MsgReadIndexResp':
      s += ` Index:${m.index}`;
      break;
    case 'MsgProp':
    case 'MsgTransferLeader':
    case 'MsgTimeoutNow':
      break;
    default:
      s += ` Log:${m.logTerm}/${m.index}`;
  }
  if (m.reject) s += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.commit !== 0 || m.type === 'MsgApp') s += ` Commit:${m.commit}`;
  if (m.entries.length > 0) s += ` Entries:[${m.entries.map((e) => describeEntry(core, e)).join(', ')}]`;
  if (m.snapshot) s += ` Snapshot: ${describeSnapshot(core, m.snapshot)}`;
  if (m.context.length > 0) s += ` Context:${describeBytes(m.context)}`;
  return s;
}

/** A Ready as the lines a driver would act on, in the order it must act on them. */
export function describeReady(core: TranscriptCore, rd: Ready): string[] {
  const out: string[] = [`Ready MustSync=${rd.mustSync}:`];
  if (rd.softState) out.push(`Lead:${rd.softState.lead} Role:${rd.softState.role}`);
  if (rd.hardState) out.push(`HardState Term:${rd.hardState.term} Vote:${rd.hardState.vote} Commit:${rd.hardState.commit}`);
  if (rd.entries.length > 0) {
    out.push('Entries:');
    for (const e of rd.entries) out.push(describeEntry(core, e));
  }
  if (rd.snapshot) out.push(`Snapshot ${describeSnapshot(core, rd.snapshot)}`);
  if (rd.committedEntries.length > 0) {
    out.push('CommittedEntries:');
    for (const e of rd.committedEntries) out.push(describeEntry(core, e));
  }
  if (rd.messages.length > 0) {
    out.push('Messages:');
    for (const m of rd.messages) out.push(describeMessage(core, m));
  }
  if (rd.readStates.length > 0) {
    out.push('ReadStates:');
    for (const rs of rd.readStates) out.push(`Index:${rs.index} Ctx:${describeBytes(rs.requestCtx)}`);
  }
  return out;
}
