/**
 * In-memory WebSocket pairs for transport tests: a `WebSocket`-like constructor that "dials" a URL
 * registered by a test (handing the other end to that transport's `accept`), delivering messages
 * asynchronously and in order. Either end can be blackholed: it then sends and receives nothing
 * and no close ever reaches the other end, as on a silent network cut (a close it starts itself
 * never completes, as `ws` waits for a close frame that never comes).
 */
import type { WebSocketLike } from '../../adapters/transport/websocket-link.ts';

type Handler = ((ev: never) => void) | null;
const call = (h: Handler, ev: unknown) => (h as ((ev: unknown) => void) | null)?.(ev);

/** One end of an in-memory socket pair. */
export class FakeSocket implements WebSocketLike {
  binaryType = 'arraybuffer';
  bufferedAmount = 0;
  readyState = 0;
  onopen: Handler = null;
  onmessage: Handler = null;
  onclose: Handler = null;
  onerror: Handler = null;
  peer: FakeSocket | undefined;
  /** Set: nothing leaves or arrives at this end, and no close passes. */
  blackholed = false;
  /** Every message this end sent, in order (text as is, binary as a copy). */
  readonly sent: Array<string | Uint8Array> = [];

  send(data: string | Uint8Array): void {
    if (this.readyState !== 1) throw new Error('not open');
    const copy = typeof data === 'string' ? data : new Uint8Array(data);
    this.sent.push(copy);
    if (this.blackholed) return;
    const to = this.peer!;
    setTimeout(() => {
      if (!to.blackholed && to.readyState === 1) call(to.onmessage, { data: copy });
    }, 0);
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState >= 2) return;
    this.readyState = 2;
    // A blackholed end never hears the close frame answered: its close does not complete.
    if (this.blackholed || this.peer!.blackholed) return;
    const peer = this.peer!;
    setTimeout(() => {
      for (const s of [peer, this]) {
        if (s.readyState === 3) continue;
        s.readyState = 3;
        call(s.onclose, { code, reason });
      }
    }, 0);
  }
}

/** A fake network: URLs a test registers, and the WebSocket constructor that dials them. */
export interface FakeNet {
  /** Makes `url` accept sockets (the server end goes to `accept`). */
  listen(url: string, accept: (socket: WebSocketLike) => void): void;
  /** Every client end dialled so far, by URL. */
  dialled(url: string): FakeSocket[];
  /** The constructor to pass as `WebSocket`. */
  WebSocket: new (url: string) => WebSocketLike;
}

/** Creates a {@link FakeNet}. */
export function createFakeNet(): FakeNet {
  const listeners = new Map<string, (socket: WebSocketLike) => void>();
  const clients = new Map<string, FakeSocket[]>();
  class Dial extends FakeSocket {
    constructor(url: string) {
      super();
      const server = new FakeSocket();
      this.peer = server;
      server.peer = this;
      (clients.get(url) ?? clients.set(url, []).get(url)!).push(this);
      setTimeout(() => {
        const accept = listeners.get(url);
        if (accept === undefined) {
          this.readyState = 3;
          return call(this.onclose, { code: 1006, reason: 'nobody listens' });
        }
        this.readyState = 1;
        server.readyState = 1;
        accept(server);
        call(this.onopen, {});
      }, 0);
    }
  }
  return {
    listen: (url, accept) => void listeners.set(url, accept),
    dialled: (url) => clients.get(url) ?? [],
    WebSocket: Dial,
  };
}
