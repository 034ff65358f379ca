/**
 * The conformance harness of the MessageChannel transport, shared by the Node test and the
 * Chromium test: every pair of stores linked by its own channel in the same page.
 */
import { createMessageChannelTransport, linkInPage, type MessageChannelTransport } from '../../adapters/transport/message-channel.ts';
import { createRealClock } from '../../adapters/runtime/real-clock.ts';
import type { Transport } from '../../src/transport/port.ts';
import type { TransportHarness } from './conformance.ts';

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 5));

/**
 * A fresh harness; `interrupt` closes a link and links the pair again with a new channel.
 * @param clusterId - the cluster id of the stores.
 */
export function messageChannelHarness(clusterId = 'mc'): TransportHarness {
  let all: MessageChannelTransport[] = [];
  const byId = (t: Transport) => all.find((x) => x.localId === t.localId)!;
  return {
    clock: createRealClock(),
    async start(ids, options) {
      all = ids.map((localId) => createMessageChannelTransport({ localId, clusterId, windowBytes: options?.queueBytesMax, limits: { frameBytesMax: options?.frameBytesMax } }));
      for (let i = 0; i < all.length; i++) for (let j = i + 1; j < all.length; j++) linkInPage(all[i], all[j]);
      return all;
    },
    settle: tick,
    async interrupt(a, b) {
      byId(a).disconnect(b.localId, 'test interrupt');
      await tick();
      linkInPage(byId(a), byId(b));
    },
    async stop() {
      await Promise.all(all.map((t) => t.close()));
    },
  };
}
