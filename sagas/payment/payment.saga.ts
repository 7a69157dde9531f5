import { Compensate, Saga, Step, type CompensationContext, type StepContext } from '../../src/saga/index.js';
import { CardAcquirer, type Authorization, type Capture } from './card-acquirer.service.js';
import { PaymentInput } from './payment.input.js';

/**
 * A card payment in two steps, as acquirers take them: a hold on the card, then its capture. The
 * `trip` saga runs it as a child; it runs on its own too. One payment per card at a time: the others
 * wait `pending`, in start order.
 */
@Saga({ name: 'payment', version: 1, input: PaymentInput, concurrencyKey: (input) => input.card })
export class PaymentSaga {
  constructor(private readonly acquirer: CardAcquirer) {}

  // An authorization that timed out may still have placed its hold, so a finally failed one is voided too.
  // The acquirer takes at most 50 authorizations a second and 20 at once, from all our workers together.
  @Step({
    retry: { attempts: 5, backoff: { type: 'exponential', delay: 100 } },
    timeoutMs: 10_000,
    compensateOnFailure: true,
    concurrency: 20,
    rateLimit: { max: 50, durationMs: 1000 },
  })
  authorize(ctx: StepContext<PaymentInput>): Promise<Authorization> {
    const { paymentId, card, amount } = ctx.input;
    return this.acquirer.authorize({ key: ctx.idempotencyKey, paymentId, card, amount });
  }

  @Compensate('authorize')
  voidAuthorization(ctx: CompensationContext<PaymentInput>): Promise<{ voided: boolean }> {
    return this.acquirer.void(ctx.stepIdempotencyKey);
  }

  // Likewise, a capture that timed out may have gone through: a finally failed one is refunded.
  @Step({
    retry: { attempts: 3, backoff: { type: 'exponential', delay: 100 } },
    timeoutMs: 10_000,
    compensateOnFailure: true,
  })
  capture(ctx: StepContext<PaymentInput>): Promise<Capture> {
    return this.acquirer.capture({
      key: ctx.idempotencyKey,
      paymentId: ctx.input.paymentId,
      authorizationKey: ctx.result<Authorization>('authorize').authorizationId,
      amount: ctx.input.amount,
    });
  }

  @Compensate('capture')
  refund(ctx: CompensationContext<PaymentInput>): Promise<{ refunded: boolean }> {
    return this.acquirer.refund(ctx.stepIdempotencyKey);
  }
}
