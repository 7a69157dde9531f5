import { Injectable } from '@nestjs/common';
import { SagaDefinitionError } from '../errors/saga-definition.error.js';
import type { SagaDefinition, ScheduleDefinition } from './saga-definition.interface.js';

/**
 * The saga definitions of this application, filled once at module init by the explorer, keyed by
 * name and version: a saga finishes on the definition it started with, so the classes of several
 * versions of one saga may be registered side by side while sagas of the older ones are in flight.
 */
@Injectable()
export class SagaRegistry {
  /** Every version of each saga, in ascending version order. */
  private readonly versions = new Map<string, SagaDefinition[]>();

  register(definition: SagaDefinition): void {
    const versions = this.versions.get(definition.name) ?? [];
    const existing = versions.find((d) => d.version === definition.version);
    if (existing && existing.instance !== definition.instance) {
      throw new SagaDefinitionError(
        definition.className,
        `${definition.name}@${definition.version} is already declared by ${existing.className}: ` +
          `a new definition of a saga needs a higher version`,
      );
    }
    if (existing) return;
    this.versions.set(
      definition.name,
      [...versions, definition].sort((a, b) => a.version - b.version),
    );
  }

  /** The definition new sagas of this name start on: its highest version. */
  find(name: string): SagaDefinition | undefined {
    return this.versions.get(name)?.at(-1);
  }

  /** The definition a saga started on, if this process has it. */
  findVersion(name: string, version: number): SagaDefinition | undefined {
    return this.versions.get(name)?.find((d) => d.version === version);
  }

  /** The cron schedules that start sagas: those of each saga's highest version (the one new starts use). */
  schedules(): { saga: string; schedule: ScheduleDefinition }[] {
    return [...this.versions.values()].flatMap((versions) =>
      versions.at(-1)!.schedules.map((schedule) => ({ saga: versions.at(-1)!.name, schedule })),
    );
  }

  /** Every version of every saga, each saga's versions in ascending order. */
  all(): SagaDefinition[] {
    return [...this.versions.values()].flat();
  }
}
