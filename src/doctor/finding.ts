// What every doctor check reports: ok / warning / problem, the evidence, and the command that fixes it.

export type Verdict = 'ok' | 'warning' | 'problem';

export interface Finding {
  check: string;
  status: Verdict;
  evidence: string;
  fix?: string;
}
