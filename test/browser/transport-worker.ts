/**
 * A store in a Worker for the browser MessageChannel test: receives one end of a channel from the
 * page as `{ peerId, port }`, links it, and answers every request with a response.
 */
import { createMessageChannelTransport } from '../../adapters/transport/message-channel.ts';
import type { FrameItem } from '../../src/codec/schema.ts';

const transport = createMessageChannelTransport({ localId: 2, clusterId: 'mc-worker' });
transport.onFrame((frame) => {
  const out: FrameItem[] = [];
  for (const item of frame.items) if (item.kind === 'request') out.push({ kind: 'response', requestId: item.requestId, payload: item.payload });
  if (out.length > 0) transport.send(frame.from, out);
});
self.onmessage = (ev: MessageEvent<{ peerId: number; port: MessagePort }>) => {
  transport.connect(ev.data.peerId, ev.data.port);
  (self as unknown as Worker).postMessage('linked');
};
