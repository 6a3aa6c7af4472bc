import type { Logger } from '../../src/index.js';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  obj?: object;
}

/** A logger that keeps every line, for assertions. */
export function captureLogger(): Logger & { lines: LogLine[]; messages(level?: LogLine['level']): string[] } {
  const lines: LogLine[] = [];
  const make =
    (level: LogLine['level']) =>
    (a: object | string, b?: string): void => {
      if (typeof a === 'string') lines.push({ level, msg: a });
      else lines.push({ level, msg: b ?? '', obj: a });
    };
  return {
    lines,
    debug: make('debug'),
    info: make('info'),
    warn: make('warn'),
    error: make('error'),
    messages(level) {
      return lines.filter((l) => !level || l.level === level).map((l) => l.msg);
    },
  };
}
