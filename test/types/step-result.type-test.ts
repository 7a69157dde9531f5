// Type-level tests of `ctx.result()`: compiled by `npm run build`, never run. A broken typing fails
// the build, through an `@ts-expect-error` that no longer finds an error or a type that is no longer exact.
import { z } from 'zod';
import {
  Compensate,
  Saga,
  Step,
  type CompensationContext,
  type SignalContext,
  type StepContext,
  type StepOutput,
} from '../../src/saga/index.js';

/** `true` only when A and B are the same type, not merely assignable one way or both. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** `exactly<T>()(value)` compiles only when `value` is of type T exactly. */
const exactly =
  <Expected>() =>
  <Actual>(_value: Actual, ..._mismatch: Equal<Actual, Expected> extends true ? [] : ['not exactly']) =>
    undefined;

const Input = z.object({ orderId: z.string() });
type Input = z.infer<typeof Input>;
interface Reservation {
  reservationId: string;
  reservedAt: Date;
  items: { sku: string; quantity: number }[];
}

@Saga({ name: 'typed', input: Input })
export class TypedSaga {
  @Step()
  async reserve(ctx: StepContext<Input, TypedSaga>): Promise<Reservation> {
    return { reservationId: ctx.idempotencyKey, reservedAt: new Date(), items: [] };
  }

  @Compensate('reserve')
  release(ctx: CompensationContext<Input, TypedSaga>): { released: string | undefined } {
    return { released: ctx.result('reserve')?.reservationId };
  }

  // A return type inferred from another step's output compiles: no circularity.
  @Step()
  charge(ctx: StepContext<Input, TypedSaga>) {
    const reservation = ctx.result('reserve');
    return { paid: reservation !== undefined, items: reservation?.items.length ?? 0 };
  }

  @Step()
  notify(ctx: StepContext<Input, TypedSaga>): void {
    ctx.logger.log(ctx.input.orderId);
  }

  @Step({ signal: { name: 'approval', schema: z.object({ by: z.string() }) } })
  approve(ctx: SignalContext<Input, { by: string }, TypedSaga>) {
    return { by: ctx.payload.by, paid: ctx.result('charge')?.paid };
  }
}

export function typedFromTheMethod(ctx: StepContext<Input, TypedSaga>): void {
  // The method's output, awaited, as JSON gives it back (a Date as a string); undefined until it completed.
  exactly<
    { reservationId: string; reservedAt: string; items: { sku: string; quantity: number }[] } | undefined
  >()(ctx.result('reserve'));
  exactly<{ paid: boolean; items: number } | undefined>()(ctx.result('charge'));
  exactly<{ by: string; paid: boolean | undefined } | undefined>()(ctx.result('approve'));
  // Nothing returned, or a compensation's name: undefined, as at run time.
  exactly<undefined>()(ctx.result('notify'));
  exactly<undefined>()(ctx.result('release'));
  exactly<{ paid: boolean; items: number }>()(undefined as unknown as StepOutput<TypedSaga, 'charge'>);

  // @ts-expect-error a name that is no member of the saga
  ctx.result('reserv');
  // @ts-expect-error a property the step's output does not have
  void ctx.result('reserve')?.reservationID;
  // @ts-expect-error possibly undefined: the step may not have completed
  void ctx.result('reserve').reservationId;
  // @ts-expect-error a Date comes back as a string
  exactly<Date | undefined>()(ctx.result('reserve')?.reservedAt);
}

export function namedByTheCaller(typed: StepContext<Input, TypedSaga>, untyped: StepContext<Input>): void {
  // The type named by the caller, as before: for a child step, or a context without the saga class.
  exactly<Reservation>()(typed.result<Reservation>('reserve'));
  exactly<Reservation>()(untyped.result<Reservation>('anything'));
  // @ts-expect-error the name is still checked when the saga class is given
  typed.result<Reservation>('reserv');
  // Without the saga class: any name, and unknown unless the caller names a type.
  exactly<unknown>()(untyped.result('anything'));
}
