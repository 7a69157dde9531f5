import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import type { SagaDefinition } from '../../src/saga/definition/saga-definition.interface.js';
import { SagaRegistry } from '../../src/saga/definition/saga-registry.js';
import { SagaDefinitionError } from '../../src/saga/errors/saga-definition.error.js';

/** A definition as the explorer builds it, reduced to what the registry looks at. */
function definition(name: string, version: number, className = `${name}V${version}`): SagaDefinition {
  return {
    name,
    version,
    className,
    instance: {},
    input: z.object({}),
    steps: [],
    schedules: [],
    priority: 5,
  };
}

const described = (defs: (SagaDefinition | undefined)[]) => defs.map((d) => d && `${d.className}`);

describe('SagaRegistry: definitions by name and version', () => {
  it('new starts use the highest version, whatever order the versions were registered in', () => {
    const registry = new SagaRegistry();
    registry.register(definition('order', 2));
    registry.register(definition('order', 3));
    registry.register(definition('order', 1));
    registry.register(definition('refund', 1));
    assert.equal(registry.find('order')?.className, 'orderV3');
    assert.equal(registry.find('refund')?.className, 'refundV1');
    assert.equal(registry.find('shipment'), undefined);
  });

  it('finds the exact version a saga started on, and nothing for a version it lacks', () => {
    const registry = new SagaRegistry();
    registry.register(definition('order', 1));
    registry.register(definition('order', 3));
    assert.deepEqual(described([1, 2, 3, 4].map((v) => registry.findVersion('order', v))), [
      'orderV1',
      undefined,
      'orderV3',
      undefined,
    ]);
    assert.equal(registry.findVersion('refund', 1), undefined);
  });

  it('lists every version of every saga', () => {
    const registry = new SagaRegistry();
    registry.register(definition('order', 2));
    registry.register(definition('refund', 1));
    registry.register(definition('order', 1));
    assert.deepEqual(described(registry.all()), ['orderV1', 'orderV2', 'refundV1']);
  });

  it('refuses a second class for one name@version, naming both classes', () => {
    const registry = new SagaRegistry();
    registry.register(definition('order', 1, 'OrderSagaV1'));
    registry.register(definition('order', 2, 'OrderSaga'));
    assert.throws(
      () => registry.register(definition('order', 1, 'OrderSagaCopy')),
      (error: Error) => {
        assert.ok(error instanceof SagaDefinitionError);
        assert.match(
          error.message,
          /^Invalid saga OrderSagaCopy: order@1 is already declared by OrderSagaV1/,
        );
        return true;
      },
    );
    assert.equal(registry.findVersion('order', 1)?.className, 'OrderSagaV1');
  });

  it('takes the same provider instance found twice as one registration', () => {
    const registry = new SagaRegistry();
    const once = definition('order', 1);
    registry.register(once);
    registry.register({ ...once });
    assert.equal(registry.all().length, 1);
  });
});
