/**
 * Text the datasources panel shows for server values: test outcomes, row
 * estimates, dialect badges and preview cells. Pure, so it is tested as is.
 */
import type {
  ConnectionFailure,
  IConnectionTestResult
} from '../../api/datasources';

const FAILURES: Record<ConnectionFailure, string> = {
  authentication_failed: 'Authentication failed',
  host_unreachable: 'Host unreachable',
  timeout: 'Timed out',
  database_missing: 'Database not found',
  driver_missing: 'Driver missing',
  refused: 'Refused',
  connection_failed: 'Connection failed'
};

/** "Connection OK · PostgreSQL 16.2 · 12 ms", or "Authentication failed: …". */
export function testResultText(result: IConnectionTestResult): string {
  if (result.ok) {
    const parts = ['Connection OK'];
    if (result.server_version) {
      parts.push(result.server_version);
    }
    if (result.latency_ms !== null && result.latency_ms !== undefined) {
      parts.push(`${formatLatency(result.latency_ms)}`);
    }
    return parts.join(' · ');
  }
  const label = result.category
    ? FAILURES[result.category]
    : 'Connection failed';
  return result.message ? `${label}: ${result.message}` : label;
}

export function formatLatency(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** "~1.2M rows": the database's own estimate, rounded; empty when unknown. */
export function formatRowEstimate(rows: number | null): string {
  if (rows === null || rows < 0) {
    return '';
  }
  if (rows < 1000) {
    return `~${rows} row${rows === 1 ? '' : 's'}`;
  }
  const units: [number, string][] = [
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'k']
  ];
  for (const [size, unit] of units) {
    if (rows >= size) {
      const value = rows / size;
      return `~${value >= 100 ? Math.round(value) : Number(value.toFixed(1))}${unit} rows`;
    }
  }
  return `~${rows} rows`;
}

const BADGES: Record<string, string> = {
  postgresql: 'PG',
  mysql: 'MY',
  mariadb: 'MDB',
  sqlite: 'SQLITE',
  duckdb: 'DUCK'
};

/** A short badge for a dialect ("PG", "DUCK"); unknown dialects in capitals. */
export function dialectBadge(dialect: string): string {
  return BADGES[dialect] ?? dialect.slice(0, 6).toUpperCase();
}

/** A preview cell as text: null shown as NULL, objects as JSON. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) {
    return 'NULL';
  }
  if (typeof value === 'string') {
    return value;
  }
  if (
    typeof value === 'number' ||
    typeof value === 'boolean' ||
    typeof value === 'bigint'
  ) {
    return String(value);
  }
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
