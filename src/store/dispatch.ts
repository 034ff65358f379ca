/**
 * Serves a client request on a StoreEngine: the one place where the request types of
 * `requests.ts` meet the store's methods, shared by the in-page connector and the
 * server that answers remote clients.
 */
import { InvalidArgumentError } from '../errors.ts';
import type { StoreRequest, StoreResponses } from './requests.ts';
import type { StoreEngine } from './store-engine.ts';

/** Runs `request` on `store` and returns its answer (or rejects with the store's typed error). */
export async function dispatchRequest<R extends StoreRequest>(store: StoreEngine, request: R): Promise<StoreResponses[R['type']]> {
  type Answer = StoreResponses[R['type']];
  switch (request.type) {
    case 'write':
      return (await store.write(request.regionId, request.epoch, request.clientId, request.seq, request.op)) as Answer;
    case 'read':
      return (await store.read(request.regionId, request.epoch, request.op, request.consistency)) as Answer;
    case 'regions':
      return store.regions() as Answer;
    case 'ident':
      return store.ident() as Answer;
    case 'pdMembers':
      if (!store.pd) throw new InvalidArgumentError('pd', 'this store runs without a placement driver');
      return store.pd.members() as Answer;
    case 'recovery': {
      const op = request.op;
      if (op.kind === 'report') return store.recoveryReport() as Answer;
      return (await store.forceRecovery(op.regionId, op.lostStoreIds, op.waitMs)) as Answer;
    }
    case 'admin': {
      const op = request.op;
      if (op.kind === 'split') {
        const { left, right } = await store.splitRegion(request.regionId, request.epoch, op.splitKey);
        return [left, right] as Answer;
      }
      if (op.kind === 'transferLeader') {
        await store.transferLeader(request.regionId, request.epoch, op.toStoreId);
        return undefined as Answer;
      }
      if (op.kind === 'check') return (await store.checkRegion(request.regionId, request.epoch, op.waitMs)) as Answer;
      if (op.kind === 'backupFence') return (await store.backup.fence(request.regionId, request.epoch, op.backupId, op.leaseMs)) as Answer;
      if (op.kind === 'merge') {
        store.checkEpoch(request.regionId, request.epoch);
        return (await store.mergeRegions(request.regionId, op.sourceId)) as Answer;
      }
      return (await store.changePeer(request.regionId, request.epoch, op.change, op.storeId, undefined, op.incarnation)) as Answer;
    }
    case 'lease':
      return (await store.lease(request.op)) as Answer;
    case 'backup': {
      const op = request.op;
      if (op.kind === 'thaw') return store.backup.thaw(request.backupId) as Answer;
      if (op.kind === 'release') return store.backup.release(request.backupId) as Answer;
      return (await store.backup.read(request.backupId, op.regionId, op.after, op.maxBytes)) as Answer;
    }
  }
}
