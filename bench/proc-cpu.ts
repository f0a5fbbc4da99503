// CPU time of processes from /proc, for the benchmarks' CPU figures.
import { readFileSync } from 'node:fs';

/** utime + stime of a process in seconds (/proc/PID/stat fields 14 and 15), 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
  } catch {
    return 0;
  }
}
