/** Saga priorities: 1 is taken first, 10 last; a start that sets none has the saga's default. */
export const SAGA_PRIORITY = { first: 1, default: 5, last: 10 } as const;
