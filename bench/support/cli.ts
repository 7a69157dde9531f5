import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
type Flags<T extends Options> = ReturnType<
  typeof parseArgs<{ options: T; strict: true; allowPositionals: false }>
>['values'];

/** Parses `--flag value` options strictly: an unknown flag stops with usage rather than being ignored. */
export function parseFlags<T extends Options>(options: T, usage: string): Flags<T> {
  try {
    return parseArgs({ options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${usage}`);
    process.exit(2);
  }
}

export function positiveInteger(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) {
    console.error(`--${flag} must be a positive integer, got "${value}"`);
    process.exit(2);
  }
  return parsed;
}

export function positiveIntegers(value: string | undefined, flag: string, fallback: number[]): number[] {
  return value === undefined
    ? fallback
    : value.split(',').map((part) => positiveInteger(part.trim(), flag, 0));
}
