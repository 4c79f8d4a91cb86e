// A fake Proxmox VE API server for tests: HTTPS with a throw-away CA, API-token auth, asynchronous
// tasks with real-format UPIDs, and a small state machine of VMs, storages and guests that enforces
// the documented PVE behaviour the BlockHost driver relies on (see qemu.ts). All state lives in the
// FakeProxmox object, so several fakes can run in one process, or one in a process of its own.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parameterError,
  PveHttpError,
  pveDie,
  readParams,
  sendData,
  sendError,
  single,
  type RequestParams,
} from './http.js';
import { GuestFsError } from './guest-fs.js';
import { FakeQemu, type FakeTemplate, type FakeVmView } from './qemu.js';
import { DEFAULT_STORAGE, FakeStorages, type FakeStorage } from './storage.js';
import { FakeTasks, type FakeTask } from './tasks.js';
import { createTlsMaterial } from './tls.js';

export type { FakeStorage, FakeTask, FakeTemplate, FakeVmView };

export interface FakeToken {
  /** user@realm!tokenname */
  tokenId: string;
  secret: string;
}

export interface FakeProxmoxOptions {
  node?: string;
  tokens?: FakeToken[];
  templates?: FakeTemplate[];
  storage?: FakeStorage[];
  /** Bridges that exist on the node; a VM with a NIC on another one fails to start. */
  bridges?: string[];
  /** Time from VM start until the guest agent answers. */
  agentDelayMs?: number;
  /** How long each task (clone, start, resize, ...) runs. */
  taskDurationMs?: number;
  /** How long a request waits for a VM's config file lock before failing (PVE: 10 s). */
  lockTimeoutMs?: number;
}

export interface InjectedErrors {
  /** Matched against the path below /api2/json, e.g. /\/status\/current$/. */
  path: RegExp;
  method?: string;
  status: number;
  message?: string;
  /** How many matching requests fail. */
  count: number;
  /**
   * Fail after the request took effect, as when a proxy loses PVE's answer (a retry then meets the
   * result of the first attempt). Default: fail before anything happens.
   */
  afterEffect?: boolean;
}

export interface RequestRecord {
  method: string;
  /** Path below /api2/json, without the query string. */
  path: string;
  status: number;
}

type Handler = (match: string[], params: RequestParams, user: string) => unknown;

const API_PREFIX = '/api2/json';

export const DEFAULT_TOKEN: FakeToken = {
  tokenId: 'blockhost@pve!controller',
  secret: '4c1fd7a2-53b0-4cf5-9a86-2f0e1d7c9b31',
};

const STATUS_TEXT: Record<number, string> = {
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export class FakeProxmox {
  /** API base URL, https://127.0.0.1:<port>/api2/json. */
  readonly url: string;
  private readonly injected: InjectedErrors[] = [];
  private readonly log: RequestRecord[] = [];
  private readonly routes: [string, RegExp, Handler][];

  private constructor(
    private readonly server: Server,
    readonly node: string,
    /** PEM of the CA that signed the server certificate. */
    readonly ca: string,
    private readonly tokens: FakeToken[],
    private readonly qemu: FakeQemu,
    private readonly storages: FakeStorages,
    private readonly taskLog: FakeTasks,
    private readonly dataDir: string,
  ) {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('fake PVE server is not listening');
    this.url = `https://127.0.0.1:${address.port}${API_PREFIX}`;
    this.routes = this.routeTable();
  }

  static async start(options: FakeProxmoxOptions = {}): Promise<FakeProxmox> {
    const node = options.node ?? 'pve';
    const dataDir = await mkdtemp(join(tmpdir(), 'fake-pve-'));
    try {
      const tls = await createTlsMaterial(dataDir);
      const storages = new FakeStorages(options.storage ?? DEFAULT_STORAGE, join(dataDir, 'storage'));
      const tasks = new FakeTasks(node);
      const qemu = new FakeQemu(
        {
          node,
          bridges: options.bridges ?? ['vmbr0'],
          agentDelayMs: options.agentDelayMs ?? 200,
          taskDurationMs: options.taskDurationMs ?? 50,
          lockTimeoutMs: options.lockTimeoutMs ?? 10_000,
        },
        storages,
        tasks,
        options.templates ?? [{ vmid: 9000, name: 'debian-12', diskGiB: 2 }],
      );
      const server = createServer({ key: tls.key, cert: tls.cert });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const tokens = options.tokens ?? [DEFAULT_TOKEN];
      const fake = new FakeProxmox(server, node, tls.ca, tokens, qemu, storages, tasks, dataDir);
      // Nobody knows the port before start() returns: no request can come before this handler.
      server.on(
        'request',
        (request: IncomingMessage, response: ServerResponse) => void fake.handle(request, response),
      );
      return fake;
    } catch (error) {
      await rm(dataDir, { recursive: true, force: true });
      throw error;
    }
  }

  async stop(): Promise<void> {
    this.qemu.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.dataDir, { recursive: true, force: true });
  }

  // --- holding moments still (instead of racing the durations) ---

  /** Tasks stop at their next step, their locks held, until releaseTasks(). */
  holdTasks(): void {
    this.qemu.taskGate.hold();
  }

  releaseTasks(): void {
    this.qemu.taskGate.release();
  }

  /** Guest agents answer "not running" until releaseAgents(). */
  holdAgents(): void {
    this.qemu.agentGate.hold();
  }

  releaseAgents(): void {
    this.qemu.agentGate.release();
  }

  // --- inspection ---

  vms(): FakeVmView[] {
    return this.qemu.views();
  }

  vm(vmid: number): FakeVmView | undefined {
    return this.vms().find((vm) => vm.vmid === vmid);
  }

  /** Volume ids of the ISO files on all storages. */
  isoVolumes(): string[] {
    return this.storages
      .all()
      .filter((v) => v.content === 'iso')
      .map((v) => v.volid);
  }

  /** Volume ids of the disk images for import (`<storage>:import/<file>`) on all storages. */
  importVolumes(): string[] {
    return this.storages
      .all()
      .filter((v) => v.content === 'import')
      .map((v) => v.volid);
  }

  /** Volume ids of VM disks on all storages. */
  imageVolumes(): string[] {
    return this.storages
      .all()
      .filter((v) => v.content === 'images')
      .map((v) => v.volid);
  }

  tasks(): FakeTask[] {
    return this.taskLog.all();
  }

  requests(filter: { method?: string; path?: RegExp } = {}): RequestRecord[] {
    return this.log.filter(
      (r) => (!filter.method || r.method === filter.method) && (!filter.path || filter.path.test(r.path)),
    );
  }

  /**
   * Writes a file inside the guest as a program of the guest would (pam_web3 opening a login
   * session); fails like open() when the directory does not exist.
   */
  plantGuestFile(vmid: number, path: string, content: string): void {
    this.qemu.guestFiles(vmid).write(path, Buffer.from(content));
  }

  /** A file of the guest's filesystem, or undefined when there is none (or only a directory). */
  guestFile(vmid: number, path: string): string | undefined {
    try {
      return this.qemu.guestFiles(vmid).read(path).toString('utf8');
    } catch (error) {
      if (error instanceof GuestFsError) return undefined;
      throw error;
    }
  }

  // --- faults ---

  /** The next `count` requests matching `path` (and `method`) fail with `status` before any other check. */
  injectErrors(errors: InjectedErrors): void {
    this.injected.push({ ...errors });
  }

  powerOffBehindBack(vmid: number): void {
    this.qemu.powerOff(vmid);
  }

  deleteBehindBack(vmid: number): Promise<void> {
    return this.qemu.remove(vmid);
  }

  pauseBehindBack(vmid: number): void {
    this.qemu.pause(vmid);
  }

  /** Puts a config lock (e.g. `backup`) on the VM for `ms`, as a backup job would. */
  holdConfigLock(vmid: number, lock: string, ms: number): void {
    this.qemu.holdConfigLock(vmid, lock, ms);
  }

  // --- HTTP ---

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'https://fake.invalid');
    const method = request.method ?? 'GET';
    const path = url.pathname.startsWith(API_PREFIX) ? url.pathname.slice(API_PREFIX.length) : url.pathname;
    let status = 200;
    try {
      const params = await readParams(request, url);
      this.takeInjected(method, path, false);
      const user = this.authenticate(request.headers.authorization);
      const found = this.route(method, path);
      if (!url.pathname.startsWith(API_PREFIX) || !found) {
        throw new PveHttpError(501, `Method '${method} ${url.pathname}' not implemented`);
      }
      const data = await found.handler(found.match, params, user);
      this.takeInjected(method, path, true);
      sendData(response, data);
    } catch (error) {
      const failure = error instanceof PveHttpError ? error : new PveHttpError(500, (error as Error).message);
      status = failure.status;
      try {
        sendError(response, failure);
      } catch {
        // A bug of the fake must not leave the client waiting.
        response.destroy();
      }
    } finally {
      this.log.push({ method, path, status });
    }
  }

  private takeInjected(method: string, path: string, afterEffect: boolean): void {
    const rule = this.injected.find(
      (r) =>
        r.count > 0 &&
        (r.afterEffect ?? false) === afterEffect &&
        r.path.test(path) &&
        (!r.method || r.method === method),
    );
    if (!rule) return;
    rule.count -= 1;
    throw new PveHttpError(rule.status, rule.message ?? STATUS_TEXT[rule.status] ?? `HTTP ${rule.status}`);
  }

  /** `Authorization: PVEAPIToken=user@realm!name=secret`, as pveproxy checks it. */
  private authenticate(header: string | undefined): string {
    if (!header) throw new PveHttpError(401, 'No ticket');
    const match = /^PVEAPIToken=([^!=\s]+@[^!=\s]+)!([^=\s]+)=(\S+)$/.exec(header.trim());
    if (!match) throw new PveHttpError(401, 'authentication failure');
    const [, user, name, secret] = match as unknown as [string, string, string, string];
    const token = this.tokens.find((t) => t.tokenId === `${user}!${name}`);
    if (!token) throw new PveHttpError(401, `no such token '${name}' for user '${user}'`);
    if (token.secret !== secret) throw new PveHttpError(401, 'invalid token value!');
    return token.tokenId;
  }

  private route(method: string, path: string): { handler: Handler; match: string[] } | undefined {
    for (const [routeMethod, pattern, handler] of this.routes) {
      if (routeMethod !== method) continue;
      const match = pattern.exec(path);
      if (match) return { handler, match: match.slice(1).map((part) => decodeURIComponent(part)) };
    }
    return undefined;
  }

  private checkNode(node: string | undefined): void {
    if (node !== this.node) {
      throw pveDie(
        `hostname lookup '${node}' failed - failed to get address info for: ${node}: Name or service not known`,
      );
    }
  }

  private routeTable(): [string, RegExp, Handler][] {
    const qemu = this.qemu;
    const vm = '^/nodes/([^/]+)/qemu/([^/]+)';
    const storage = '^/nodes/([^/]+)/storage/([^/]+)';
    const onNode =
      (handler: (match: string[], params: RequestParams, user: string) => unknown): Handler =>
      (match, params, user) => {
        this.checkNode(match[0]);
        return handler(match, params, user);
      };
    return [
      ['GET', /^\/cluster\/resources$/, (_m, p) => this.resources(single(p, 'type'))],
      ['GET', /^\/cluster\/nextid$/, (_m, p) => qemu.nextId(single(p, 'vmid'))],
      ['GET', /^\/nodes\/([^/]+)\/qemu$/, onNode(() => qemu.nodeList())],
      ['POST', /^\/nodes\/([^/]+)\/qemu$/, onNode((_m, p, user) => qemu.create(p, user))],
      ['POST', new RegExp(`${vm}/template$`), onNode(([, id], _p, user) => qemu.template(id!, user))],
      ['POST', new RegExp(`${vm}/clone$`), onNode(([, id], p, user) => qemu.clone(id!, p, user))],
      ['GET', new RegExp(`${vm}/config$`), onNode(([, id]) => qemu.config(id!))],
      ['PUT', new RegExp(`${vm}/config$`), onNode(([, id], p) => qemu.updateConfig(id!, p))],
      ['PUT', new RegExp(`${vm}/resize$`), onNode(([, id], p, user) => qemu.resize(id!, p, user))],
      ['GET', new RegExp(`${vm}/status/current$`), onNode(([, id]) => qemu.status(id!))],
      [
        'POST',
        new RegExp(`${vm}/status/(start|stop|shutdown|resume)$`),
        onNode(([, id, action], _p, user) => qemu.power(id!, action!, user)),
      ],
      ['DELETE', new RegExp(`${vm}$`), onNode(([, id], p, user) => qemu.destroy(id!, p, user))],
      [
        'POST',
        new RegExp(`${vm}/agent/(ping|exec|file-write)$`),
        onNode(([, id, command], p) => qemu.agent(id!, command!, p)),
      ],
      [
        'GET',
        new RegExp(`${vm}/agent/(network-get-interfaces|exec-status|file-read)$`),
        onNode(([, id, command], p) => qemu.agent(id!, command!, p)),
      ],
      ['GET', /^\/nodes\/([^/]+)\/tasks\/([^/]+)\/status$/, onNode(([, upid]) => this.taskStatus(upid!))],
      [
        'GET',
        new RegExp(`${storage}/content$`),
        onNode(([, id], p) =>
          this.storages.content(id!, single(p, 'content')).map((v) => ({
            volid: v.volid,
            content: v.content,
            format: v.content === 'images' ? 'raw' : (/\.([a-z0-9]+)$/.exec(v.volid)?.[1] ?? 'raw'),
            size: v.sizeBytes,
            ctime: v.ctime,
            ...(v.owner !== undefined && { vmid: v.owner }),
          })),
        ),
      ],
      ['POST', new RegExp(`${storage}/upload$`), onNode(([, id], p, user) => this.upload(id!, p, user))],
      [
        'DELETE',
        new RegExp(`${storage}/content/([^/]+)$`),
        onNode(([, id, volume], _p, user) => this.deleteVolume(id!, volume!, user)),
      ],
    ];
  }

  private resources(type: string | undefined): object[] {
    const vms = this.qemu.resources();
    const storages = this.storages.list().map((s) => ({
      id: `storage/${this.node}/${s.id}`,
      type: 'storage',
      storage: s.id,
      node: this.node,
      plugintype: s.type,
      content: s.content.join(','),
      status: 'available',
    }));
    if (type === 'vm') return vms;
    if (type === 'storage') return storages;
    return [...vms, ...storages];
  }

  private taskStatus(upid: string): FakeTask {
    const task = this.taskLog.get(upid);
    if (!task) throw pveDie(`unable to open file '/var/log/pve/tasks/${upid}' - No such file or directory`);
    return task;
  }

  private upload(storageId: string, params: RequestParams, user: string): string {
    const file = params.files.get('filename');
    const content = single(params, 'content');
    const fileName = this.storages.checkUpload(storageId, content, file?.fileName);
    const checksum = single(params, 'checksum');
    const algorithm = single(params, 'checksum-algorithm');
    if ((checksum === undefined) !== (algorithm === undefined)) {
      const missing = checksum === undefined ? 'checksum' : 'checksum-algorithm';
      throw parameterError({ [missing]: 'property is missing and it is not optional' });
    }
    if (
      algorithm !== undefined &&
      !['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'].includes(algorithm)
    ) {
      throw parameterError({
        'checksum-algorithm': `value '${algorithm}' does not have a value in the enumeration`,
      });
    }
    return this.taskLog.start('imgcopy', '', user, async () => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      if (algorithm !== undefined) {
        const got = createHash(algorithm).update(file!.data).digest('hex');
        if (got !== checksum!.toLowerCase())
          throw new Error(`checksum mismatch: got '${got}' != expect '${checksum}'`);
      }
      // vztmpl uploads are accepted but not kept: nothing in the fake uses container templates.
      if (content === 'iso' || content === 'import')
        await this.storages.storeFile(storageId, content, fileName, file!.data);
    });
  }

  private deleteVolume(storageId: string, volume: string, user: string): string {
    this.storages.storage(storageId);
    const volid = this.storages.volidOf(storageId, volume);
    return this.taskLog.start('imgdel', storageId, user, () => this.storages.free(volid));
  }
}
