import cliProgress from 'cli-progress';

export interface Progress {
  /** Starts a new bar (finishing the previous one); `total` is what 100% means. */
  start(label: string, total: number): void;
  update(value: number, detail?: string): void;
  stop(): void;
}

/**
 * A live bar on a terminal; nothing when disabled (`--json`) or when the output is not a terminal,
 * so logs and pipes stay readable.
 */
export function createProgress(enabled: boolean): Progress {
  if (!enabled || !process.stdout.isTTY) return { start() {}, update() {}, stop() {} };
  let bar: cliProgress.SingleBar | undefined;
  return {
    start(label, total) {
      bar?.stop();
      bar = new cliProgress.SingleBar(
        {
          format: `${label.padEnd(28)} |{bar}| {value}/{total} {detail}`,
          hideCursor: true,
          clearOnComplete: false,
          barsize: 30,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { detail: '' });
    },
    update(value, detail = '') {
      bar?.update(value, { detail });
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
