/**
 * A store in a Node worker thread for the MessageChannel test: receives one end of a channel as
 * `{ peerId, port }`, links it, and answers every request with a response.
 */
import { parentPort } from 'node:worker_threads';
import { createMessageChannelTransport } from '../../adapters/transport/message-channel.ts';
import type { FrameItem } from '../../src/codec/schema.ts';

const transport = createMessageChannelTransport({ localId: 2, clusterId: 'mc-worker' });
transport.onFrame((frame) => {
  const out: FrameItem[] = [];
  for (const item of frame.items) if (item.kind === 'request') out.push({ kind: 'response', requestId: item.requestId, payload: item.payload });
  if (out.length > 0) transport.send(frame.from, out);
});
parentPort?.on('message', (msg: { peerId: number; port: MessagePort } | 'close') => {
  if (msg === 'close') {
    void transport.close().then(() => parentPort?.close());
    return;
  }
  transport.connect(msg.peerId, msg.port);
  parentPort?.postMessage('linked');
});
