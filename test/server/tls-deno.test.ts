/**
 * The mutual-TLS suite (tls-suite.ts) with every store under Deno (`deno run -A bin/cli.ts serve`):
 * Deno's own `Deno.serve` and `WebSocket` cannot request or present client certificates, so with
 * TLS the stores serve and dial through `ws` over Deno's `node:https`; this shows that it verifies
 * client certificates, reloads on SIGHUP and honours the file modes as Node does.
 */
import { describeMutualTlsCluster } from './tls-suite.ts';

describeMutualTlsCluster('a 3-store cluster over mutual TLS (Deno)', ['deno', 'deno', 'deno']);
