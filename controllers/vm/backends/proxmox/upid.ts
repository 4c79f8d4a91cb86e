/** The parts of a PVE task id: `UPID:node:pid:pstart:starttime:type:id:user:` (numbers in hex). */
export interface Upid {
  node: string;
  pid: number;
  pstart: number;
  /** Unix seconds. */
  starttime: number;
  /** Worker type, e.g. qmclone, qmstart, imgcopy. */
  type: string;
  /** Object the task works on (a VMID for qm* tasks); may be empty. */
  id: string;
  /** user@realm, or user@realm!token for API tokens. */
  user: string;
}

// The same shape PVE::Tools::upid_decode accepts.
const UPID_PATTERN =
  /^UPID:([a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$/;

export function parseUpid(text: string): Upid | undefined {
  const match = UPID_PATTERN.exec(text);
  if (!match) return undefined;
  const [, node, pid, pstart, starttime, type, id, user] = match as unknown as string[];
  return {
    node: node!,
    pid: parseInt(pid!, 16),
    pstart: parseInt(pstart!, 16),
    starttime: parseInt(starttime!, 16),
    type: type!,
    id: id!,
    user: user!,
  };
}
