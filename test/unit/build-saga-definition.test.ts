import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import {
  buildSagaDefinition,
  type DecoratedMethod,
  type HandlerDefaults,
} from '../../src/saga/definition/build-saga-definition.js';
import type { SagaOptions } from '../../src/saga/definition/saga-options.interface.js';
import { SagaDefinitionError } from '../../src/saga/errors/saga-definition.error.js';

const defaults: HandlerDefaults = {
  retry: { attempts: 3, backoff: { type: 'exponential', delay: 200, maxDelay: 60_000, jitter: 0 } },
  timeoutMs: 30_000,
};

const input = z.object({ orderId: z.string() });
const options: SagaOptions = { name: 'order', version: 2, input };
const instance = { marker: true };

function build(methods: DecoratedMethod[], sagaOptions: SagaOptions = options) {
  return buildSagaDefinition('OrderSaga', instance, sagaOptions, methods, defaults);
}

/** Asserts a SagaDefinitionError whose message names the class and every fragment given. */
function assertRejected(fn: () => unknown, ...fragments: (string | RegExp)[]): SagaDefinitionError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof SagaDefinitionError, `expected a SagaDefinitionError, got ${String(caught)}`);
  assert.equal(caught.name, 'SagaDefinitionError');
  assert.match(caught.message, /OrderSaga/);
  for (const fragment of fragments) {
    if (typeof fragment === 'string')
      assert.ok(caught.message.includes(fragment), `"${caught.message}" names ${fragment}`);
    else assert.match(caught.message, fragment);
  }
  return caught;
}

const step = (name: string, stepOptions: DecoratedMethod['step'] = {}): DecoratedMethod => ({
  name,
  step: stepOptions,
});
const compensate = (name: string, target: string, compensateOptions = {}): DecoratedMethod => ({
  name,
  compensate: { step: target, options: compensateOptions },
});

describe('buildSagaDefinition: the happy path', () => {
  it('steps in declaration order, defaults applied, compensations attached', () => {
    const def = build([
      step('reserveInventory', {
        retry: { attempts: 5, backoff: { type: 'fixed', delay: 100 } },
        timeoutMs: 10_000,
      }),
      compensate('releaseInventory', 'reserveInventory', { retry: { attempts: 10 } }),
      { name: 'helper' },
      step('chargePayment', { compensateOnFailure: true }),
      step('sendConfirmation'),
      compensate('refundPayment', 'chargePayment', { timeoutMs: 5000 }),
    ]);
    assert.equal(def.name, 'order');
    assert.equal(def.version, 2);
    assert.equal(def.input, input);
    assert.equal(def.className, 'OrderSaga');
    assert.equal(def.instance, instance);
    assert.deepEqual(
      def.steps.map((s) => [s.index, s.name, s.method]),
      [
        [0, 'reserveInventory', 'reserveInventory'],
        [1, 'chargePayment', 'chargePayment'],
        [2, 'sendConfirmation', 'sendConfirmation'],
      ],
    );

    const [reserve, charge, send] = def.steps;
    assert.deepEqual(reserve.retry, {
      attempts: 5,
      backoff: { type: 'fixed', delay: 100, maxDelay: 60_000, jitter: 0 },
    });
    assert.equal(reserve.timeoutMs, 10_000);
    assert.equal(reserve.compensateOnFailure, false);
    assert.deepEqual(reserve.compensation, {
      method: 'releaseInventory',
      retry: { ...defaults.retry, attempts: 10 },
      timeoutMs: 30_000,
    });

    assert.deepEqual(charge.retry, defaults.retry);
    assert.equal(charge.timeoutMs, 30_000);
    assert.equal(charge.compensateOnFailure, true);
    assert.deepEqual(charge.compensation, {
      method: 'refundPayment',
      retry: defaults.retry,
      timeoutMs: 5000,
    });

    assert.equal(send.compensation, undefined);
    assert.equal(send.compensateOnFailure, false);
  });

  it('steps that all set an order run in that order, with indexes to match', () => {
    const def = build([
      step('charge', { order: 2 }),
      compensate('refund', 'charge'),
      step('email', { order: 3 }),
      step('reserve', { order: 1 }),
    ]);
    assert.deepEqual(
      def.steps.map((s) => [s.name, s.index]),
      [
        ['reserve', 0],
        ['charge', 1],
        ['email', 2],
      ],
    );
    assert.equal(def.steps[1].compensation?.method, 'refund');
  });

  it('a step and a compensation keep their concurrency and rate limit; a handler without sets none', () => {
    const def = build([
      step('authorize', { concurrency: 20, rateLimit: { max: 50, durationMs: 1000 } }),
      compensate('voidAuthorization', 'authorize', { concurrency: 1 }),
      step('capture'),
      compensate('refund', 'capture', { rateLimit: { max: 1, durationMs: 1 } }),
    ]);
    assert.deepEqual(def.steps[0].limits, { concurrency: 20, rateLimit: { max: 50, durationMs: 1000 } });
    assert.deepEqual(def.steps[0].compensation!.limits, { concurrency: 1 });
    assert.equal('limits' in def.steps[1], false);
    assert.deepEqual(def.steps[1].compensation!.limits, { rateLimit: { max: 1, durationMs: 1 } });
  });

  it('version defaults to 1', () => {
    assert.equal(build([step('a')], { name: 'order', input }).version, 1);
  });

  it('resolved policies do not share objects with the defaults', () => {
    const def = build([step('a'), step('b')]);
    def.steps[0].retry.backoff.delay = 1;
    assert.equal(defaults.retry.backoff.delay, 200);
    assert.equal(def.steps[1].retry.backoff.delay, 200);
  });

  it('accepts the boundary option values', () => {
    const def = build([
      step('a', {
        retry: { attempts: 1, backoff: { delay: 0, maxDelay: 0, jitter: 0 } },
        timeoutMs: 1,
      }),
      step('b', { retry: { attempts: 1000, backoff: { jitter: 1 } }, timeoutMs: 2_147_483_647 }),
    ]);
    assert.equal(def.steps[0].retry.attempts, 1);
    assert.equal(def.steps[1].retry.backoff.jitter, 1);
  });

  it('accepts saga names with letters, digits, "_", "." and "-"', () => {
    for (const name of ['a', 'Order_v2.final-1', '9lives', 'x'.repeat(100)]) {
      assert.equal(build([step('a')], { name, input }).name, name);
    }
  });
});

describe('buildSagaDefinition: boot errors name the class and method', () => {
  it('no @Step method', () => {
    assertRejected(() => build([]), 'no @Step');
    assertRejected(() => build([{ name: 'helper' }]), 'no @Step');
  });

  it('only compensations, no step', () => {
    assertRejected(() => build([compensate('undo', 'a')]), /no @Step|names no step/);
  });

  it('an order on some steps but not all, or the same order twice', () => {
    assertRejected(
      () => build([step('a', { order: 1 }), step('b'), step('c')]),
      'b, c',
      'every step or none',
    );
    assertRejected(() => build([step('a', { order: 1 }), step('b', { order: 1 })]), 'order 1');
    assertRejected(() => build([step('a', { order: 1.5 })]), 'a');
  });

  it('@Compensate naming an unknown step', () => {
    assertRejected(
      () => build([step('reserve'), compensate('release', 'reserveInventory')]),
      "@Compensate('reserveInventory')",
      'release',
    );
  });

  it('two compensations for one step', () => {
    assertRejected(
      () => build([step('reserve'), compensate('release', 'reserve'), compensate('releaseAgain', 'reserve')]),
      'reserve',
      'release',
      'releaseAgain',
    );
  });

  it('a method that is both a step and a compensation', () => {
    assertRejected(
      () =>
        build([
          step('reserve'),
          { name: 'chargeAndRelease', step: {}, compensate: { step: 'reserve', options: {} } },
        ]),
      'chargeAndRelease',
      /both/,
    );
  });

  const badStepOptions: [string, unknown, string][] = [
    ['attempts 0', { retry: { attempts: 0 } }, 'retry.attempts'],
    ['attempts not an integer', { retry: { attempts: 1.5 } }, 'retry.attempts'],
    ['attempts over 1000', { retry: { attempts: 1001 } }, 'retry.attempts'],
    ['a negative delay', { retry: { backoff: { delay: -1 } } }, 'retry.backoff.delay'],
    ['a negative maxDelay', { retry: { backoff: { maxDelay: -5 } } }, 'retry.backoff.maxDelay'],
    ['jitter 2', { retry: { backoff: { jitter: 2 } } }, 'retry.backoff.jitter'],
    ['a negative jitter', { retry: { backoff: { jitter: -0.1 } } }, 'retry.backoff.jitter'],
    ['an unknown backoff type', { retry: { backoff: { type: 'linear' } } }, 'retry.backoff.type'],
    ['timeoutMs 0', { timeoutMs: 0 }, 'timeoutMs'],
    ['a timeoutMs beyond what setTimeout takes', { timeoutMs: 2 ** 31 }, 'timeoutMs'],
    ['an unknown option key', { retries: 3 }, 'retries'],
    ['an unknown retry key', { retry: { attempts: 2, delay: 5 } }, 'delay'],
    ['an unknown backoff key', { retry: { backoff: { factor: 3 } } }, 'factor'],
    ['compensateOnFailure not a boolean', { compensateOnFailure: 'yes' }, 'compensateOnFailure'],
    ['a string where a number belongs', { timeoutMs: '1000' }, 'timeoutMs'],
    ['concurrency 0', { concurrency: 0 }, 'concurrency must be a positive integer'],
    ['concurrency not an integer', { concurrency: 2.5 }, 'concurrency must be a positive integer'],
    ['concurrency a string', { concurrency: '20' }, 'concurrency must be a positive integer'],
    [
      'rateLimit.max 0',
      { rateLimit: { max: 0, durationMs: 1000 } },
      'rateLimit.max must be a positive integer',
    ],
    [
      'rateLimit.max missing',
      { rateLimit: { durationMs: 1000 } },
      'rateLimit.max must be a positive integer',
    ],
    [
      'rateLimit.durationMs 0',
      { rateLimit: { max: 50, durationMs: 0 } },
      'rateLimit.durationMs must be a positive integer',
    ],
    [
      'rateLimit.durationMs a fraction',
      { rateLimit: { max: 50, durationMs: 0.5 } },
      'rateLimit.durationMs must be a positive integer',
    ],
    ['an unknown rateLimit key', { rateLimit: { max: 5, durationMs: 10, burst: 2 } }, 'burst'],
  ];
  for (const [what, stepOptions, field] of badStepOptions) {
    it(`step options: ${what}`, () => {
      assertRejected(
        () => build([step('first'), step('chargePayment', stepOptions as DecoratedMethod['step'])]),
        'chargePayment',
        field,
      );
    });
  }

  const badCompensationOptions: [string, unknown, string][] = [
    ['attempts 0', { retry: { attempts: 0 } }, 'retry.attempts'],
    ['a negative delay', { retry: { backoff: { delay: -100 } } }, 'retry.backoff.delay'],
    ['jitter 2', { retry: { backoff: { jitter: 2 } } }, 'retry.backoff.jitter'],
    ['timeoutMs 0', { timeoutMs: 0 }, 'timeoutMs'],
    ['compensateOnFailure (a step-only option)', { compensateOnFailure: true }, 'compensateOnFailure'],
    ['an unknown option key', { timeout: 5 }, 'timeout'],
    ['concurrency -1', { concurrency: -1 }, 'concurrency must be a positive integer'],
    [
      'rateLimit.max 0.5',
      { rateLimit: { max: 0.5, durationMs: 10 } },
      'rateLimit.max must be a positive integer',
    ],
  ];
  for (const [what, compensateOptions, field] of badCompensationOptions) {
    it(`compensation options: ${what}`, () => {
      assertRejected(
        () =>
          build([step('reserve'), compensate('releaseInventory', 'reserve', compensateOptions as object)]),
        'releaseInventory',
        field,
      );
    });
  }

  const badNames: [string, unknown][] = [
    ['empty', ''],
    ['with a space', 'my saga'],
    ['with a slash', 'a/b'],
    ['with a colon', 'a:b'],
    ['starting with a dot', '.hidden'],
    ['starting with a dash', '-x'],
    ['over 100 characters', 'x'.repeat(101)],
    ['not a string', 42],
    ['missing', undefined],
  ];
  for (const [what, name] of badNames) {
    it(`a saga name ${what}`, () => {
      assertRejected(() => build([step('a')], { name, input } as unknown as SagaOptions), '@Saga', 'name');
    });
  }

  const badInputs: [string, unknown][] = [
    ['missing', undefined],
    ['a plain object', { orderId: 'string' }],
    ['a JSON schema', { type: 'object', properties: {} }],
    ['a function', () => true],
  ];
  for (const [what, notSchema] of badInputs) {
    it(`an input that is not a zod schema: ${what}`, () => {
      assertRejected(
        () => build([step('a')], { name: 'order', input: notSchema } as unknown as SagaOptions),
        '@Saga',
        'input',
      );
    });
  }

  it('a version that is not a positive integer', () => {
    for (const version of [0, -1, 1.5, '2']) {
      assertRejected(
        () => build([step('a')], { name: 'order', input, version } as unknown as SagaOptions),
        '@Saga',
        'version',
      );
    }
  });

  it('accepts any zod schema as input', () => {
    for (const schema of [z.string(), z.array(z.number()), z.unknown(), z.object({}).strict()]) {
      assert.equal(build([step('a')], { name: 'order', input: schema }).input, schema);
    }
  });
});

describe('buildSagaDefinition: groups, waits and children', () => {
  const approval = z.object({ approved: z.boolean() });

  it('adjacent steps of one group share a stage; the others get one each', () => {
    const def = build([step('a'), step('b', { group: 'g' }), step('c', { group: 'g' }), step('d')]);
    assert.deepEqual(
      def.steps.map((s) => [s.name, s.stage, s.group]),
      [
        ['a', 0, undefined],
        ['b', 1, 'g'],
        ['c', 1, 'g'],
        ['d', 2, undefined],
      ],
    );
  });

  it('a group split by another step is refused, naming the step', () => {
    assertRejected(
      () => build([step('a', { group: 'g' }), step('b'), step('c', { group: 'g' })]),
      'group "g"',
      'c',
    );
  });

  it('a wait step knows its signal, schema and timeout (a number, or a function of the input)', () => {
    const def = build([
      step('fixed', { signal: { name: 'go', schema: approval, timeoutMs: 500 } }),
      step('byInput', {
        signal: { name: 'approval', schema: approval, timeoutMs: (i: { t: number }) => i.t },
      }),
      step('forever', { signal: { name: 'later', schema: approval } }),
    ]);
    assert.deepEqual(
      def.steps.map((s) => [s.kind, s.signal?.name, s.signal?.timeoutMs({ t: 42 })]),
      [
        ['wait', 'go', 500],
        ['wait', 'approval', 42],
        ['wait', 'later', undefined],
      ],
    );
    assert.equal(def.steps[0].signal!.schema, approval);
  });

  it('a child step names its saga and takes no @Compensate of its own', () => {
    assert.deepEqual(
      build([step('pay', { child: 'payment' })]).steps.map((s) => [s.kind, s.child]),
      [['child', 'payment']],
    );
    assertRejected(
      () => build([step('pay', { child: 'payment' }), compensate('unpay', 'pay')]),
      'unpay',
      'child saga',
    );
  });

  it('refuses a step that both waits and runs a child, two waits for one signal, and bad signal options', () => {
    assertRejected(
      () => build([step('x', { child: 'payment', signal: { name: 's', schema: approval } })]),
      'x',
      'not both',
    );
    assertRejected(
      () =>
        build([
          step('a', { signal: { name: 's', schema: approval } }),
          step('b', { signal: { name: 's', schema: approval } }),
        ]),
      'signal "s"',
    );
    assertRejected(
      () => build([step('a', { signal: { name: 's', schema: {} as never } })]),
      'a',
      'zod schema',
    );
    assertRejected(() => build([step('a', { signal: { name: 'bad name', schema: approval } })]), 'a');
  });
});

describe('buildSagaDefinition: delays', () => {
  it('keeps a step delay; a step without one has none', () => {
    const def = build([step('a', { delayMs: 2000 }), step('b')]);
    assert.equal(def.steps[0].delayMs, 2000);
    assert.equal(def.steps[1].delayMs, undefined);
  });

  it('refuses a negative, fractional or over-a-year delay, and a delay on a wait step', () => {
    for (const delayMs of [-1, 1.5, 366 * 24 * 3600 * 1000]) {
      assertRejected(() => build([step('a', { delayMs })]), 'options of a', 'delayMs');
    }
    const signal = { name: 'go', schema: z.object({}) };
    assertRejected(() => build([step('a', { signal, delayMs: 10 })]), 'a', 'wait step cannot have a delayMs');
  });
});

describe('buildSagaDefinition: cron schedules', () => {
  const withSchedules = (schedules: unknown[]) =>
    build([step('a')], { ...options, schedules } as SagaOptions);

  it('parses each schedule, with UTC as the default time zone and the input kept as JSON', () => {
    const def = withSchedules([
      { id: 'nightly', cron: '0 3 * * *', input: { orderId: 'o-1' } },
      { id: 'every-5s', cron: '*/5 * * * * *', timezone: 'America/New_York', input: { orderId: 'o-2' } },
    ]);
    assert.deepEqual(
      def.schedules.map((s) => [s.id, s.cron.expression, s.cron.timezone, s.input]),
      [
        ['nightly', '0 3 * * *', 'UTC', { orderId: 'o-1' }],
        ['every-5s', '*/5 * * * * *', 'America/New_York', { orderId: 'o-2' }],
      ],
    );
    const at = new Date('2026-03-01T12:00:02.000Z');
    assert.equal(def.schedules[0].cron.nextAfter(at)!.toISOString(), '2026-03-02T03:00:00.000Z');
    assert.equal(def.schedules[1].cron.latestAtOrBefore(at)!.toISOString(), '2026-03-01T12:00:00.000Z');
    assert.equal(
      def.schedules[1].cron.latestAtOrBefore(new Date('2026-03-01T12:00:05.000Z'))!.toISOString(),
      '2026-03-01T12:00:05.000Z',
    );
    assert.deepEqual(build([step('a')]).schedules, []);
  });

  it('refuses a bad cron, a cron that never fires, an unknown time zone, an input the schema refuses, a bad or repeated id', () => {
    const ok = { id: 'nightly', cron: '0 3 * * *', input: { orderId: 'o-1' } };
    assertRejected(
      () => withSchedules([{ ...ok, cron: '61 * * * *' }]),
      'schedule "nightly"',
      'invalid cron "61 * * * *"',
    );
    assertRejected(() => withSchedules([{ ...ok, cron: '* * * * * * *' }]), 'invalid cron');
    assertRejected(() => withSchedules([{ ...ok, cron: '0 0 30 2 *' }]), 'never fires');
    assertRejected(
      () => withSchedules([{ ...ok, timezone: 'Mars/Olympus' }]),
      'unknown time zone "Mars/Olympus"',
    );
    assertRejected(
      () => withSchedules([{ ...ok, input: { orderId: 7 } }]),
      "input does not match the saga's schema",
      'orderId',
    );
    assertRejected(() => withSchedules([{ ...ok, id: 'no spaces' }]), 'schedule 0', 'id');
    assertRejected(() => withSchedules([{ ...ok, extra: true }]), 'schedule 0');
    assertRejected(
      () => withSchedules([ok, { ...ok, cron: '0 4 * * *' }]),
      'two schedules have id "nightly"',
    );
  });
});

describe('buildSagaDefinition: flow control options', () => {
  it('priority defaults to 5; a concurrency key is kept as text', () => {
    assert.equal(build([step('a')]).priority, 5);
    const keyed: SagaOptions<typeof input> = {
      name: options.name,
      version: options.version,
      input,
      priority: 1,
      concurrencyKey: (i) => i.orderId.length as unknown as string,
    };
    const def = build([step('a')], keyed as SagaOptions);
    assert.equal(def.priority, 1);
    assert.equal(def.concurrencyKey!({ orderId: 'abc' }), '3');
    assert.equal(build([step('a')]).concurrencyKey, undefined);
  });

  it('refuses a priority outside 1..10 and a concurrency key that is not a function', () => {
    for (const priority of [0, 11, 2.5])
      assertRejected(() => build([step('a')], { ...options, priority }), 'priority');
    assertRejected(
      () => build([step('a')], { ...options, concurrencyKey: 'card' as unknown as () => string }),
      'concurrencyKey must be a function',
    );
  });
});
