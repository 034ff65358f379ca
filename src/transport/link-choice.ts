/**
 * Which of two authenticated links to the same peer id a transport keeps (docs/reconnect.md).
 * A peer whose old link went half-dead (a silent network cut: no FIN ever arrives) dials again;
 * its new link must be taken at once instead of being refused until the old one times out. Pure:
 * the WebSocket transport asks it only once the new link has fully authenticated, so a stranger's
 * `hello` can never push an honest peer off.
 *
 * The rules, in order:
 * 1. A user's link (no cluster secret) replaces only a link of the same user: one user cannot cut
 *    off another client, a store or an operator tool that happens to use (or guess) the same id.
 * 2. A link proving another incarnation of the peer's data replaces the old one: the store was
 *    restarted (or wiped), so its old link is dead. What its frames may then do is the incarnation
 *    guard's business (`src/store/incarnation-guard.ts`), not the transport's.
 * 3. A newer link dialled from the same side replaces the older: the dialler only dials again once
 *    it has given its old link up.
 * 4. Links dialled from opposite sides (both ends dialled at once): the one dialled by the higher
 *    id wins, on both ends alike, so the two never take turns replacing each other.
 */

/** What the choice looks at of one link. */
export interface LinkFacts {
  /** Who dialled it: this end (`out`) or the peer (`in`). */
  direction: 'out' | 'in';
  /** The incarnation of the peer's data its handshake proved (stores only). */
  incarnation?: string;
  /** The user it logged in as; undefined for a link that proved the cluster secret. */
  user?: string;
}

/** The verdict on a newer link. */
export type LinkChoice = { replace: true; reason: string } | { replace: false; reason: string };

/**
 * Decides whether `incoming`, a newly authenticated link to `peerId`, replaces `current`.
 * @param localId - this end's id.
 * @param peerId - the peer's id (the same for both links).
 * @param current - the link in use now.
 * @param incoming - the link that just authenticated.
 */
export function chooseLink(localId: number, peerId: number, current: LinkFacts, incoming: LinkFacts): LinkChoice {
  if (incoming.user !== undefined && incoming.user !== current.user) {
    return { replace: false, reason: `a link of user ${incoming.user} may not replace peer ${peerId}'s link of ${current.user === undefined ? 'a cluster-secret holder' : 'another user'}` };
  }
  if (incoming.incarnation !== current.incarnation) return { replace: true, reason: `peer ${peerId} runs another incarnation (${incoming.incarnation ?? 'none'}, was ${current.incarnation ?? 'none'})` };
  if (incoming.direction === current.direction) return { replace: true, reason: `newer link dialled by ${incoming.direction === 'out' ? 'this end' : `peer ${peerId}`}` };
  const dialler = (l: LinkFacts) => (l.direction === 'out' ? localId : peerId);
  const winner = Math.max(localId, peerId);
  if (dialler(incoming) === winner) return { replace: true, reason: `both ends dialled: the link dialled by the higher id (${winner}) wins` };
  return { replace: false, reason: `both ends dialled: the link dialled by the higher id (${winner}) is kept` };
}
