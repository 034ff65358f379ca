/**
 * `flotilla help <command>` (and `flotilla <command> --help`): every flag of every command, with
 * its default and meaning. The one-screen overview is `USAGE` in cli.ts; test/package/cli-help.test.ts
 * checks that every command the CLI dispatches and every key of the serve config is described.
 */

const ADMIN_FLAGS = `  --endpoints host:port,...   stores to ask first (default 127.0.0.1:7001); the client learns the rest
  --secret-file FILE          read the cluster secret from FILE (else FLOTILLA_SECRET); --secret on argv is
                              refused (other users see argv); a FILE readable by group/others is warned of
  --cluster NAME              the cluster id (default flotilla)
  --user NAME                 log in as this user instead of with the secret (auth enabled; docs/auth.md)
  --password-file FILE        the user's password (else FLOTILLA_PASSWORD, else a prompt on the terminal)
  --ca FILE                   dial wss:// (host:port means wss://), trusting the CA certificates in FILE
  --cert FILE --key FILE      present this client certificate too (docs/tls.md)`;

const NEW_PASSWORD = `  --new-password-file FILE    the new password (else FLOTILLA_NEW_PASSWORD, else asked twice on the terminal);
                              only its scrypt/SCRAM verifier leaves this process`;

/** Detailed help per command. */
export const COMMAND_HELP: Readonly<Record<string, string>> = {
  serve: `flotilla serve [flags]: run one store until SIGTERM or SIGINT (then a clean shutdown, exit 0).
Prints "flotilla: store <id> listening on <url>" once it serves; logs go to stderr.

  --id N                      this store's id, 1 to 2^31-1 (required unless --join)
  --listen host:port          where it accepts stores and clients (default 127.0.0.1:7001)
  --advertise URL             the URL other stores reach it at (default ws://<listen>, wss:// with TLS)
  --peers 1=h:p,2=h:p,...     the initial stores and their addresses (include this store)
  --join host:port            join a running cluster through this store instead of --peers
  --initial-cluster-state S   on an empty data directory: new (bootstrap a new cluster), existing (never
                              bootstrap: join the peers) or auto (default: bootstrap only if no peer
                              answers within --peer-probe-ms and none was ever seen); docs/store-identity.md
  --peer-probe-ms N           auto: how long to wait for a peer to answer before bootstrapping
  --data DIR                  data directory (created if missing; locked). Default: memory only
  --engine lmdb|fs            the engine of --data: lmdb (default where its native binary loads: on disk,
                              constant-time restart) or fs (pure JS, all data in memory); a directory
                              keeps the engine it was created with. docs/storage-engines.md
  --secret-file FILE          the cluster secret (at least 16 characters) is read from FILE, else taken from
                              FLOTILLA_SECRET; --secret on the command line is refused (argv is visible
                              to other users); a FILE readable by group or others is warned of
  --cluster NAME              cluster id, checked in every handshake (default flotilla)
  --http host:port            serve GET /status (JSON) and GET /metrics (Prometheus text) there (default off)
  --no-pd | --pd              run without / with the placement driver (default with)
  --replicas N                replicas per region, 1 to 7 (default 3)
  --initial-split-keys a,b    cut the initial key space at these keys
  --split-keys N              split a region above N keys (default PD's 100,000)
  --split-bytes N             split a region above N bytes (default PD's 64 MiB)
  --tick-ms N                 Raft tick length (default 50)
  --election-tick N           election timeout in ticks (default 10)
  --heartbeat-tick N          heartbeat interval in ticks, below --election-tick (default 2)
  --store-down-ms N           PD: a store silent this long is down (default 30000)
  --pd-interval-ms N          PD: heartbeat and scheduling period (default 1000)
  --token-ttl-ms N            lifetime of the user login tokens this store issues (default 600000; docs/auth.md)
  --log-level L               debug, info, warn or error (default info)
  --cert FILE --key FILE      TLS (docs/tls.md): serve wss:// (and https:// on --http) with this certificate
                              chain and key, refusing plaintext; dial peers over wss:// with them too
  --ca FILE                   CA certificates the peers' certificates must chain to (default: system roots)
  --peer-client-cert-auth     mutual TLS between stores: a store must present a certificate signed by --ca
                              (clients on the same port need none); needs --ca
  --peer-cert FILE --peer-key FILE
                              a different certificate and key for dialling peers (default --cert/--key)
Limits on unauthenticated and hostile peers (docs/hardening.md):
  --handshake-timeout-ms N    a socket that has not authenticated after N ms is closed (default 5000)
  --link-idle-timeout-ms N    a link that receives nothing (not even a keepalive) for N ms is closed as dead
                              and redialled (default 10000; keepalives every min(1000, N/4) ms; docs/reconnect.md)
  --unauthenticated-per-address-max N  unauthenticated sockets one IP may hold; more get 429 (default 16)
  --unauthenticated-max N     unauthenticated sockets all IPs together may hold; more get 503 (default 256)
  --auth-failures-max N       failed logins (BadProof, BadCredentials) from one IP in the window that start
                              its back-off (default 5)
  --auth-failure-window-ms N  the window failed logins are counted in (default 60000)
  --auth-ban-ms N             how long an IP in back-off is refused with 429 (default 30000)
  --http-headers-timeout-ms N request headers must arrive within N ms, else 408 (default 10000; both ports)
  --http-request-timeout-ms N a whole request must arrive within N ms, else 408 (default 30000; both ports)
Load shedding: reads and writes over these are refused at once with ServerBusy (docs/overload.md):
  --requests-in-flight-max N  reads and writes admitted and not yet answered, at most (default 2048)
  --requests-in-flight-bytes-max N  bytes of those requests, at most (default 33554432: 32 MiB)
  --latency-target-ms N       the time from admission to answer the adaptive limit on requests in flight
                              aims for (default 500); a request is also refused when requests take longer
                              now than half the deadline its client sent
  --config FILE.json          any of the keys above in camelCase (listen, initialSplitKeys, secretFile, ...);
                              flags win; the file may not hold the secret itself (secretFile instead)
SIGHUP re-reads the TLS files: new connections use the new certificate, open ones keep theirs; a
bad file keeps the current one (logged as a warning).

A bad flag exits 2 naming the field; a port in use, a locked or foreign data directory or a
refused join exits 1. Reference: docs/operations.md.`,
  status: `flotilla status --http host:port [--json] [--ca FILE]: one store's regions (GET /status on its --http
address): range, epoch, role, term, leader, commit and applied index; --json prints the raw document;
--ca: over https://, trusting the CA certificates in FILE. With auth enabled /status needs an admin's
token: FLOTILLA_TOKEN or --token-file FILE (flotilla auth token).`,
  regions: `flotilla regions [admin flags]: the cluster's regions with their leaders, as JSON.\n${ADMIN_FLAGS}`,
  stores: `flotilla stores [admin flags]: the cluster's stores (state, replicas, leaders, address), as JSON.\n${ADMIN_FLAGS}`,
  split: `flotilla split --region ID [--key K] [admin flags]: split a region at K (default its middle key).\n${ADMIN_FLAGS}`,
  'transfer-leader': `flotilla transfer-leader --region ID --to STORE [admin flags]: move a region's leadership to a store.\n${ADMIN_FLAGS}`,
  'add-replica': `flotilla add-replica --region ID --store STORE [admin flags]: add a replica (as a learner, then a voter).\n${ADMIN_FLAGS}`,
  'remove-replica': `flotilla remove-replica --region ID --store STORE [admin flags]: remove a region's replica from a store.\n${ADMIN_FLAGS}`,
  pd: `flotilla pd members [--json] [admin flags]: the members of the placement driver's own Raft group, as PD's
leader reports them: store, peer id, role (voter or learner), which one leads, how far its log matches the
leader's (applied index), and whether PD counts its store as up. PD's replicas move to live stores on their own
(docs/pd-membership.md). Exit 1 when no store names a PD leader (PD has no quorum, or is electing).
  --json                      print the answer as JSON
${ADMIN_FLAGS}`,
  'remove-store': `flotilla remove-store --store STORE [admin flags]: drain a store (PD moves its replicas away; watch flotilla stores).\n${ADMIN_FLAGS}`,
  'rejoin-store': `flotilla rejoin-store --store STORE [admin flags]: bring back a store whose data directory was lost
(wiped disk, missing volume): each of its old replicas is replaced by a new one that catches up by
snapshot as a learner and is promoted once caught up. See docs/store-identity.md.\n${ADMIN_FLAGS}`,
  check: `flotilla check [--region ID] [flags] [admin flags]: check that every replica of every region (or of one)
holds the same data. Each region's leader proposes a hash through the region's log; every replica
hashes its state where that entry applies (one log index for all, while writes go on) and the leader
compares. Prints per region the index, the replicas agreeing and the divergent stores. Exit 0 when
all agree, 1 when some replica diverges, 3 when a replica or region could not be checked in time
(a lagging replica is "not checked", never divergent). See docs/disaster-recovery.md.

  --region ID                 check only this region
  --wait-ms N                 how long a leader waits for its replicas' hashes (default 10000)
  --json                      print the results as JSON: { ok, regions: [...], failed: [...] }
${ADMIN_FLAGS}`,
  recover: `flotilla recover --unsafe --lost 2,3 [--region ID] [--json] [admin flags]: bring back every region
(or one) whose voters lost their majority with the stores named lost for good (TiKV's unsafe recovery).
The most up-to-date surviving replica of each such region (highest last term, then last index) takes
the survivors as its membership, leads them and removes the lost replicas through the log; PD then
adds replicas on live stores. UNSAFE: writes acknowledged by the lost majority but missing on that
survivor are gone, and linearizability does not hold across the recovery for those regions. Refuses
when a store named lost answers, when every region still has a majority (nothing to do), and when
PD's own group lost its majority (bring back one of its stores with its data, or restore a backup).
Exit 0 when every such region is back, 1 otherwise (run it again: it resumes). See docs/disaster-recovery.md.

  --unsafe                    required: say that losing acknowledged writes is accepted
  --lost 2,3                  the ids of the stores lost for good (stop them; they must not answer)
  --region ID                 recover only this region
  --json                      print the result as JSON: { recovered, healthy, unrecoverable, failed }
${ADMIN_FLAGS}`,
  demo: `flotilla demo [flags]: a local 3-store cluster: three flotilla serve children on free 127.0.0.1 ports,
data in a temporary directory (removed at the end), a random secret in <dir>/secret. It prints the
endpoints, the admin commands and client code to try, and runs until Ctrl-C.

  --workload                  instead run a mixed workload with a live progress line, SIGKILL the store
                              leading most groups a third of the way in, restart it at two thirds,
                              verify every acknowledged write, then shut down (exit 0 when none is lost)
  --seconds N                 length of the --workload run (default 36)
  --data DIR                  keep the stores' data (and the secret) in DIR instead of a temporary directory
  --log-level L               the stores' log level (default warn)`,
  backup: `flotilla backup --to DIR [--fence-timeout-ms N] [admin flags]: a consistent, point-in-time backup of
every region while the cluster serves writes (docs/backup.md). Each region applies a fence entry and holds
the writes after it until every region has fenced (at most --fence-timeout-ms, default 2000; else the
attempt is thrown away, the fences thawed, and it tries again, 5 times); then each region's pairs at its
fence are copied, in bounded pages, into DIR: one file per region and manifest.json (written last; a
backup without one is incomplete). A fence whose tool died thaws by itself after 2 × the timeout.
DIR must not hold a backup already. Needs admin (or the cluster secret).
  --to DIR                    the directory to write (created 0700)
  --fence-timeout-ms N        fencing every region must finish within N ms (default 2000)
${ADMIN_FLAGS}`,
  restore: `flotilla restore --from DIR --data D1,D2,... --cluster NEW [flags]: build the data directories of a
NEW cluster holding exactly the regions of a backup (same key ranges, region ids 1..n, new store
incarnations); then start each with flotilla serve --id N --data Dn --cluster NEW --peers .... Every file
is verified against the manifest (checksums, counts, keys) first: a damaged or partial backup is refused
and nothing is created. The data directories must not exist or be empty (docs/backup.md).
  --from DIR                  the backup directory
  --data D1,D2,...            one new data directory per store
  --cluster NEW               the new cluster's id; must differ from the backed-up cluster's
  --ids 1,2,...               the new stores' ids, in the order of --data (default 1..n)
  --replicas N                replicas per region (default min(3, stores))
  --no-pd                     the new cluster runs without PD (default: PD on its first three stores)
  --engine lmdb|fs            the engine of the new data directories (default lmdb where it loads)`,
  user: `flotilla user <sub> [admin flags]: user accounts, kept in PD's replicated state (docs/auth.md). Needs admin
(the root role) or the cluster secret.
  user add NAME [--roles r1,r2]   a new user (user root gets role root with it: the bootstrap admin)
  user remove NAME                remove a user: its tokens and open links stop working at once
  user passwd NAME                set a new password: tokens issued before stop working
  user grant NAME ROLE            give a user a role (root: everything)
  user revoke NAME ROLE           take it back
  user list | user get NAME       users and their roles (never a password or verifier)
${NEW_PASSWORD}
${ADMIN_FLAGS}`,
  role: `flotilla role <sub> [admin flags]: roles and their permissions on key ranges (docs/auth.md).
  role add NAME | role remove NAME
  role grant NAME KIND [--prefix P | --from A [--to B]]   KIND is read, write, readwrite or admin; no
                                  range flag means every key; --to absent means up to the last key
  role revoke NAME KIND [same range flags]
  role list | role get NAME
${ADMIN_FLAGS}`,
  auth: `flotilla auth <sub> [admin flags]: the auth switch (docs/auth.md).
  auth enable                     accept user logins and enforce permissions (needs user root)
  auth disable                    refuse user logins again (the cluster secret still works)
  auth status                     enabled or not, the auth revision, how many users and roles
  auth token                      log in as --user and print its token (for Authorization: Bearer on /status, /metrics)
${ADMIN_FLAGS}`,
  help: 'flotilla help [command]: the overview, or every flag of one command.',
};
