// Logs: one readable line per event for people, or one JSON object per
// line (--json-log) for machines. Always on stderr; stdout is for results
// and --trace lines.

export type Level = 'info' | 'warn' | 'error';

/** A log line with its JSON fields. */
export interface LogLine {
  text: string;
  fields?: Record<string, unknown>;
}

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function createLogger(component: string, options: { json?: boolean; write?: (line: string) => void } = {}): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const emit = (level: Level, message: string, fields?: Record<string, unknown>): void => {
    if (options.json) {
      write(JSON.stringify({ time: new Date().toISOString(), level, component, msg: message, ...fields }));
    } else {
      const tag = level === 'info' ? '' : `${level}: `;
      write(`${component}: ${tag}${message}`);
    }
  };
  return {
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
