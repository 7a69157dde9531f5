import { Compensate, Saga, Step, type CompensationContext, type StepContext } from '../../src/saga/index.js';
import { EmailService } from './email.service.js';
import { InventoryService, type Reservation } from './inventory.service.js';
import { OrderInput } from './order.input.js';
import { PaymentProvider, type Charge } from './payment-provider.service.js';

@Saga({ name: 'order', version: 1, input: OrderInput })
export class OrderSaga {
  constructor(
    private readonly inventory: InventoryService,
    private readonly payments: PaymentProvider,
    private readonly emails: EmailService,
  ) {}

  @Step({ retry: { attempts: 5, backoff: { type: 'exponential', delay: 200 } }, timeoutMs: 10_000 })
  reserveInventory(ctx: StepContext<OrderInput>): Promise<Reservation> {
    return this.inventory.reserve(ctx.idempotencyKey, ctx.input.orderId, ctx.input.items);
  }

  @Compensate('reserveInventory')
  releaseInventory(ctx: CompensationContext<OrderInput, OrderSaga>): Promise<{ released: boolean }> {
    // Without compensateOnFailure, a step is compensated only once it completed: its output is there.
    return this.inventory.release(ctx.result('reserveInventory')!.reservationId);
  }

  // A charge that timed out may still have gone through, so a finally failed charge is refunded too.
  @Step({
    retry: { attempts: 5, backoff: { type: 'exponential', delay: 100 } },
    timeoutMs: 10_000,
    compensateOnFailure: true,
  })
  chargePayment(ctx: StepContext<OrderInput>): Promise<Charge> {
    const { orderId, card, amount } = ctx.input;
    return this.payments.charge({ key: ctx.idempotencyKey, orderId, card, amount });
  }

  @Compensate('chargePayment')
  refundPayment(ctx: CompensationContext<OrderInput>): Promise<{ refunded: boolean }> {
    return this.payments.refund(ctx.stepIdempotencyKey);
  }

  @Step()
  sendConfirmation(ctx: StepContext<OrderInput>): Promise<{ recipient: string }> {
    return this.emails.sendOrderConfirmation(ctx.input.orderId, ctx.input.customerId, ctx.sagaId);
  }
}
