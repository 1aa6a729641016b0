import { arch } from 'node:process';

/**
 * The seccomp filter of subprocess modules, as the classic BPF program bubblewrap's --seccomp
 * loads. A deny list (like Docker's default profile, smaller): syscalls that reach the kernel's
 * administration, other processes' memory or new namespaces fail with EPERM; clone3 with ENOSYS
 * (its flags cannot be inspected, libc falls back to clone); other architectures' calls kill.
 * Only x86_64 has a table here: elsewhere `seccompProgram` returns undefined and the host reports
 * that no filter applied.
 */
const X86_64_DENIED: Record<string, number> = {
  ptrace: 101,
  acct: 163,
  mount: 165,
  umount2: 166,
  pivot_root: 155,
  chroot: 161,
  swapon: 167,
  swapoff: 168,
  reboot: 169,
  sethostname: 170,
  setdomainname: 171,
  init_module: 175,
  delete_module: 176,
  quotactl: 179,
  add_key: 248,
  request_key: 249,
  keyctl: 250,
  kexec_load: 246,
  unshare: 272,
  perf_event_open: 298,
  name_to_handle_at: 303,
  open_by_handle_at: 304,
  setns: 308,
  process_vm_readv: 310,
  process_vm_writev: 311,
  finit_module: 313,
  kexec_file_load: 320,
  bpf: 321,
  userfaultfd: 323,
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
};
const CLONE3 = 435;
const AUDIT_ARCH_X86_64 = 0xc000003e;
const X32_BIT = 0x40000000;

const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const RET_K = 0x06;
const RET_ALLOW = 0x7fff0000;
const RET_KILL_PROCESS = 0x80000000;
const retErrno = (errno: number) => 0x00050000 | errno;
const EPERM = 1;
const ENOSYS = 38;

export const DENIED_SYSCALLS = Object.keys(X86_64_DENIED);

export function seccompProgram(): Buffer | undefined {
  if (arch !== 'x64') return undefined;
  const insns: [number, number, number, number][] = [
    [LD_W_ABS, 0, 0, 4], // seccomp_data.arch
    [JEQ_K, 1, 0, AUDIT_ARCH_X86_64],
    [RET_K, 0, 0, RET_KILL_PROCESS],
    [LD_W_ABS, 0, 0, 0], // seccomp_data.nr
    [JGE_K, 0, 1, X32_BIT],
    [RET_K, 0, 0, retErrno(EPERM)],
    [JEQ_K, 0, 1, CLONE3],
    [RET_K, 0, 0, retErrno(ENOSYS)],
  ];
  for (const nr of Object.values(X86_64_DENIED))
    insns.push([JEQ_K, 0, 1, nr], [RET_K, 0, 0, retErrno(EPERM)]);
  insns.push([RET_K, 0, 0, RET_ALLOW]);
  const program = Buffer.alloc(insns.length * 8);
  insns.forEach(([code, jt, jf, k], i) => {
    program.writeUInt16LE(code, i * 8);
    program.writeUInt8(jt, i * 8 + 2);
    program.writeUInt8(jf, i * 8 + 3);
    program.writeUInt32LE(k >>> 0, i * 8 + 4);
  });
  return program;
}
