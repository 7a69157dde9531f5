import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  HttpException,
  HttpStatus,
  NotFoundException,
  PayloadTooLargeException,
  UnauthorizedException,
} from '@nestjs/common';
import { toErrorResponse } from '../../src/saga/api/error-response.js';
import { InvalidInputError } from '../../src/saga/errors/invalid-input.error.js';
import { SagaConflictError } from '../../src/saga/errors/saga-conflict.error.js';
import { SagaNotFoundError } from '../../src/saga/errors/saga-not-found.error.js';
import { UnknownSagaError } from '../../src/saga/errors/unknown-saga.error.js';
import { NonRetryableError } from '../../src/saga/errors/non-retryable.error.js';
import { SagaDefinitionError } from '../../src/saga/errors/saga-definition.error.js';
import { DrizzleQueryError } from 'drizzle-orm';
import { z } from 'zod';

const GENERIC_500 = { statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' };

/** The body must never leak the original message or a stack. */
function assertGeneric500(exception: unknown, secret?: string): void {
  const body = toErrorResponse(exception);
  assert.deepEqual(body, GENERIC_500);
  const text = JSON.stringify(body);
  if (secret) assert.ok(!text.includes(secret), `leaks "${secret}"`);
  assert.ok(!/\bat\s.+:\d+:\d+/.test(text), 'no stack frames');
}

describe('toErrorResponse: HttpException', () => {
  it('keeps the status and message of Nest exceptions', () => {
    assert.deepEqual(toErrorResponse(new BadRequestException('id must be a UUID')), {
      statusCode: 400,
      error: 'Bad Request',
      message: 'id must be a UUID',
    });
    assert.deepEqual(toErrorResponse(new UnauthorizedException('missing bearer token')), {
      statusCode: 401,
      error: 'Unauthorized',
      message: 'missing bearer token',
    });
    assert.deepEqual(toErrorResponse(new ForbiddenException()), {
      statusCode: 403,
      error: 'Forbidden',
      message: 'Forbidden',
    });
    assert.deepEqual(toErrorResponse(new NotFoundException()), {
      statusCode: 404,
      error: 'Not Found',
      message: 'Not Found',
    });
    assert.equal(toErrorResponse(new ConflictException('busy')).statusCode, 409);
    assert.equal(toErrorResponse(new PayloadTooLargeException()).statusCode, 413);
  });

  it('a string response is the message', () => {
    assert.deepEqual(toErrorResponse(new HttpException('slow down', HttpStatus.TOO_MANY_REQUESTS)), {
      statusCode: 429,
      error: 'Too Many Requests',
      message: 'slow down',
    });
  });

  it('an array of messages (validation pipe style) is joined', () => {
    const body = toErrorResponse(new BadRequestException(['limit must be a number', 'status is invalid']));
    assert.equal(body.statusCode, 400);
    assert.equal(body.message, 'limit must be a number; status is invalid');
  });

  it('an object response without a message falls back to the exception message', () => {
    const body = toErrorResponse(new HttpException({ reason: 'x' }, 418));
    assert.equal(body.statusCode, 418);
    assert.equal(typeof body.message, 'string');
    assert.equal(body.error, "I'm a Teapot");
  });

  it('a status without a standard phrase still gets an error string', () => {
    const body = toErrorResponse(new HttpException('odd', 499));
    assert.equal(body.statusCode, 499);
    assert.equal(typeof body.error, 'string');
    assert.ok(body.error.length > 0);
  });
});

describe('toErrorResponse: the engine errors', () => {
  it('InvalidInputError: 400 with its issues', () => {
    const issues = [
      { path: 'items.0.quantity', message: 'Too small: expected number to be >=1' },
      { path: 'card', message: 'Invalid string' },
    ];
    assert.deepEqual(toErrorResponse(new InvalidInputError('Invalid input for saga "order"', issues)), {
      statusCode: 400,
      error: 'Bad Request',
      message: 'Invalid input for saga "order"',
      issues,
    });
  });

  it('InvalidInputError built from a zod error: issues with dotted paths', () => {
    const parsed = z.object({ items: z.array(z.object({ quantity: z.int().min(1) })) }).safeParse({
      items: [{ quantity: 0 }],
    });
    assert.equal(parsed.success, false);
    const body = toErrorResponse(InvalidInputError.fromZod('bad', parsed.error!));
    assert.equal(body.statusCode, 400);
    assert.equal(body.issues?.length, 1);
    assert.equal(body.issues![0].path, 'items.0.quantity');
    assert.equal(typeof body.issues![0].message, 'string');
  });

  it('UnknownSagaError and SagaNotFoundError: 404 with their message', () => {
    assert.deepEqual(toErrorResponse(new UnknownSagaError('nope')), {
      statusCode: 404,
      error: 'Not Found',
      message: 'No saga is named "nope"',
    });
    assert.deepEqual(toErrorResponse(new SagaNotFoundError('0190a000-0000-7000-8000-000000000000')), {
      statusCode: 404,
      error: 'Not Found',
      message: 'No saga has id 0190a000-0000-7000-8000-000000000000',
    });
  });

  it('SagaConflictError: 409', () => {
    assert.deepEqual(toErrorResponse(new SagaConflictError('Saga x is already completed')), {
      statusCode: 409,
      error: 'Conflict',
      message: 'Saga x is already completed',
    });
  });

  it('classified by name, not class (an error from another copy of the package)', () => {
    const foreign = Object.assign(new Error('No saga has id y'), { name: 'SagaNotFoundError' });
    assert.equal(toErrorResponse(foreign).statusCode, 404);
  });

  it('only InvalidInputError-like errors carry issues; others have none', () => {
    assert.equal('issues' in toErrorResponse(new SagaConflictError('x')), false);
    assert.equal('issues' in toErrorResponse(new UnknownSagaError('x')), false);
  });
});

describe('toErrorResponse: body parser errors', () => {
  it('entity.too.large: 413', () => {
    const body = toErrorResponse({ type: 'entity.too.large' });
    assert.equal(body.statusCode, 413);
    assert.equal(body.error, 'Payload Too Large');
    assert.match(body.message, /larger|limit/i);
  });

  it('entity.parse.failed: 400 without echoing the parser message', () => {
    const parserError = Object.assign(new SyntaxError('Unexpected token } in JSON at position 12'), {
      type: 'entity.parse.failed',
      status: 400,
      expose: true,
      body: '{"a":1,}',
    });
    const body = toErrorResponse(parserError);
    assert.equal(body.statusCode, 400);
    assert.equal(body.error, 'Bad Request');
    assert.match(body.message, /JSON/);
    assert.equal(toErrorResponse({ type: 'entity.parse.failed' }).statusCode, 400);
  });

  it('a body-parser style error as thrown, with status and expose', () => {
    const tooLarge = Object.assign(new Error('request entity too large'), {
      type: 'entity.too.large',
      status: 413,
      statusCode: 413,
      expose: true,
      limit: 1_048_576,
      length: 2_000_000,
    });
    assert.equal(toErrorResponse(tooLarge).statusCode, 413);
  });

  it('other exposed client errors (http-errors style) keep their 4xx status', () => {
    const unsupported = Object.assign(new Error('unsupported charset "UTF-7"'), {
      type: 'charset.unsupported',
      status: 415,
      expose: true,
    });
    const body = toErrorResponse(unsupported);
    assert.equal(body.statusCode, 415);
    assert.equal(body.message, 'unsupported charset "UTF-7"');
  });

  it('a status without expose, or a 5xx status, is not trusted', () => {
    assertGeneric500(Object.assign(new Error('secret detail'), { status: 400 }), 'secret detail');
    assertGeneric500(
      Object.assign(new Error('secret detail'), { status: 502, expose: true }),
      'secret detail',
    );
  });
});

describe('toErrorResponse: backing services down', () => {
  for (const code of [
    'ECONNREFUSED',
    'CONNECTION_CLOSED',
    'ECONNRESET',
    'CONNECT_TIMEOUT',
    '57P01',
    '57P03',
  ]) {
    it(`${code}: 503 without the driver message`, () => {
      const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432 password=hunter2'), {
        code,
      });
      const body = toErrorResponse(error);
      assert.equal(body.statusCode, 503);
      assert.equal(body.error, 'Service Unavailable');
      assert.ok(!body.message.includes('hunter2'));
      assert.ok(!body.message.includes('127.0.0.1'));
    });
  }

  it('a driver error wrapped by drizzle (the code on its cause): 503', () => {
    const driverError = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
    });
    const wrapped = new DrizzleQueryError('select "id" from "sagas" where "id" = $1', ['x'], driverError);
    const body = toErrorResponse(wrapped);
    assert.equal(body.statusCode, 503);
    assert.ok(!body.message.includes('select'));
    assert.equal(
      toErrorResponse(new Error('outer', { cause: new Error('middle', { cause: wrapped }) })).statusCode,
      503,
    );
  });

  it('a wrapped error of another kind, or a cycle of causes, is a 500', () => {
    const duplicate = Object.assign(new Error('duplicate key'), { code: '23505' });
    assertGeneric500(new DrizzleQueryError('insert into "sagas"', [], duplicate), 'insert');
    const cycle: Error & { cause?: unknown } = new Error('a');
    cycle.cause = new Error('b', { cause: cycle });
    assertGeneric500(cycle);
  });

  it('other Postgres error codes are a 500', () => {
    assertGeneric500(
      Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' }),
    );
  });
});

describe('toErrorResponse: anything else is a generic 500', () => {
  it('a plain Error', () => {
    const error = new Error('relation "sagas" does not exist; SELECT * FROM sagas WHERE token = abc');
    assertGeneric500(error, 'relation');
  });

  it('TypeError, RangeError and other built-ins', () => {
    assertGeneric500(new TypeError("Cannot read properties of undefined (reading 'x')"), 'properties');
    assertGeneric500(new RangeError('Invalid array length'), 'array');
  });

  it('engine errors that are not client errors', () => {
    assertGeneric500(new NonRetryableError('card declined for customer 42'), 'declined');
    assertGeneric500(new SagaDefinitionError('OrderSaga', 'internal detail'), 'internal detail');
  });

  it('non-Error throwables', () => {
    assertGeneric500('a string with a secret', 'secret');
    assertGeneric500(42);
    assertGeneric500(null);
    assertGeneric500(undefined);
    assertGeneric500({});
    assertGeneric500({ message: 'object secret' }, 'object secret');
    assertGeneric500(Symbol('s'));
  });

  it('the stack is never in the body', () => {
    const error = new Error('boom');
    const body = toErrorResponse(error);
    assert.ok(!JSON.stringify(body).includes(error.stack!.split('\n')[1].trim()));
  });

  it('an error whose name is an Object.prototype key is still a 500', () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf']) {
      const error = new Error('secret');
      Object.defineProperty(error, 'name', { value: name });
      const body = toErrorResponse(error);
      assert.equal(body.statusCode, 500, `name ${name} gives status ${String(body.statusCode)}`);
      assert.equal(body.message, 'Internal server error');
    }
  });
});
