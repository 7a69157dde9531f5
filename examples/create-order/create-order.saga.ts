import {
  Compensate,
  Saga,
  Step,
  type CompensationContext,
  type RetryOptions,
  type StepContext,
} from 'nest-saga';
import { AccountingService } from './accounting.service.js';
import { ConsumerService } from './consumer.service.js';
import { CreateOrderInput } from './create-order.input.js';
import { KitchenService } from './kitchen.service.js';
import { OrderService } from './order.service.js';

/** Steps after the pivot (authorizeCard) must succeed in the end: they retry for about 14 minutes. */
const RETRY_UNTIL_DONE: RetryOptions = {
  attempts: 20,
  backoff: { type: 'exponential', delay: 1000, maxDelay: 60_000 },
};

/**
 * FTGO's Create Order saga (Chris Richardson, Microservices Patterns, chapter 4). Each compensation
 * finds what to undo by a key, not by the step's output, so it can also undo an attempt that failed
 * after its effect (a timeout that fired while the statement committed): hence `compensateOnFailure`.
 */
@Saga({ name: 'create-order', version: 1, input: CreateOrderInput })
export class CreateOrderSaga {
  constructor(
    private readonly orders: OrderService,
    private readonly consumers: ConsumerService,
    private readonly kitchen: KitchenService,
    private readonly accounting: AccountingService,
  ) {}

  @Step({ compensateOnFailure: true })
  createOrder(ctx: StepContext<CreateOrderInput>): Promise<{ orderId: string }> {
    return this.orders.create(ctx.sagaId, ctx.input);
  }

  @Compensate('createOrder')
  rejectOrder(ctx: CompensationContext<CreateOrderInput>): Promise<void> {
    return this.orders.reject(ctx.input.orderId, ctx.sagaId);
  }

  @Step()
  verifyConsumer(ctx: StepContext<CreateOrderInput>): Promise<void> {
    return this.consumers.verify(ctx.input.consumerId);
  }

  @Step({ compensateOnFailure: true })
  createTicket(ctx: StepContext<CreateOrderInput>): Promise<{ ticketId: string }> {
    return this.kitchen.createTicket(ctx.idempotencyKey, ctx.input);
  }

  @Compensate('createTicket')
  rejectTicket(ctx: CompensationContext<CreateOrderInput>): Promise<void> {
    return this.kitchen.rejectTicket(ctx.stepIdempotencyKey);
  }

  @Step({ compensateOnFailure: true })
  authorizeCard(ctx: StepContext<CreateOrderInput>): Promise<{ authorizationId: string }> {
    return this.accounting.authorize(ctx.idempotencyKey, ctx.input);
  }

  // FTGO's pivot has no compensation. Here a cancel, or a later step that fails all its attempts,
  // compensates the saga after it: the hold on the card must go too.
  @Compensate('authorizeCard')
  reverseAuthorization(ctx: CompensationContext<CreateOrderInput>): Promise<void> {
    return this.accounting.reverse(ctx.stepIdempotencyKey);
  }

  @Step({ retry: RETRY_UNTIL_DONE })
  approveTicket(ctx: StepContext<CreateOrderInput, CreateOrderSaga>): Promise<void> {
    // createTicket completed before this step, so its output is there.
    return this.kitchen.approveTicket(ctx.result('createTicket')!.ticketId);
  }

  @Step({ retry: RETRY_UNTIL_DONE })
  approveOrder(ctx: StepContext<CreateOrderInput>): Promise<void> {
    return this.orders.approve(ctx.input.orderId);
  }
}
