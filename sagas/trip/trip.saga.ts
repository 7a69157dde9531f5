import {
  Compensate,
  NonRetryableError,
  Saga,
  Step,
  type CompensationContext,
  type SignalContext,
  type StepContext,
} from '../../src/saga/index.js';
import type { PaymentInput } from '../payment/payment.input.js';
import { CarRentalService, type CarRental } from './car-rental.service.js';
import { FlightService, type FlightBooking } from './flight.service.js';
import { HotelService, type HotelBooking } from './hotel.service.js';
import { TicketService, type Ticket } from './ticket.service.js';
import { Approval, TripInput } from './trip.input.js';

const WEEK_MS = 7 * 24 * 60 * 60 * 1000;

/** The bookings: a desk that is busy twice answers on the third attempt, 300 ms later. */
const BOOKING = {
  group: 'bookings',
  retry: { attempts: 5, backoff: { type: 'exponential', delay: 100 } },
  timeoutMs: 10_000,
} as const;

/**
 * A travel booking: flight, hotel and car booked at once, then a person's approval, then the
 * payment (the `payment` saga, as a child), then the tickets. Whatever fails or is cancelled before
 * the tickets undoes the bookings and the payment, in the reverse order of their completion.
 */
@Saga({ name: 'trip', version: 1, input: TripInput, deadlineMs: WEEK_MS })
export class TripSaga {
  constructor(
    private readonly flights: FlightService,
    private readonly hotels: HotelService,
    private readonly cars: CarRentalService,
    private readonly tickets: TicketService,
  ) {}

  @Step(BOOKING)
  bookFlight(ctx: StepContext<TripInput>): Promise<FlightBooking> {
    const { tripId, flight } = ctx.input;
    return this.flights.book({ key: ctx.idempotencyKey, tripId, ...flight }, ctx.signal);
  }

  @Compensate('bookFlight')
  cancelFlight(ctx: CompensationContext<TripInput>): Promise<{ cancelled: boolean }> {
    return this.flights.cancel(ctx.stepIdempotencyKey);
  }

  @Step(BOOKING)
  bookHotel(ctx: StepContext<TripInput>): Promise<HotelBooking> {
    const { tripId, hotel } = ctx.input;
    return this.hotels.book({ key: ctx.idempotencyKey, tripId, ...hotel });
  }

  @Compensate('bookHotel')
  cancelHotel(ctx: CompensationContext<TripInput>): Promise<{ cancelled: boolean }> {
    return this.hotels.cancel(ctx.stepIdempotencyKey);
  }

  @Step(BOOKING)
  rentCar(ctx: StepContext<TripInput>): Promise<CarRental> {
    const { tripId, car } = ctx.input;
    return this.cars.rent({ key: ctx.idempotencyKey, tripId, car });
  }

  @Compensate('rentCar')
  returnCar(ctx: CompensationContext<TripInput>): Promise<{ returned: boolean }> {
    return this.cars.return(ctx.stepIdempotencyKey);
  }

  @Step({
    signal: { name: 'approval', schema: Approval, timeoutMs: (input: TripInput) => input.approvalTimeoutMs },
  })
  awaitApproval(ctx: SignalContext<TripInput, Approval>): Approval {
    if (!ctx.payload.approved) throw new NonRetryableError(`trip rejected by ${ctx.payload.by}`);
    return ctx.payload;
  }

  @Step({ child: 'payment' })
  pay(ctx: StepContext<TripInput>): PaymentInput {
    const { tripId, amount, card } = ctx.input;
    return { paymentId: tripId, amount, card };
  }

  @Step()
  issueTickets(ctx: StepContext<TripInput>): Promise<{ tickets: Ticket[] }> {
    const { tripId, travelerId, flight, hotel } = ctx.input;
    const car = ctx.result<CarRental>('rentCar');
    const tickets: Ticket[] = [
      {
        kind: 'flight',
        reference: ctx.result<FlightBooking>('bookFlight').bookingId,
        description: `${flight.from} → ${flight.to}`,
      },
      {
        kind: 'hotel',
        reference: ctx.result<HotelBooking>('bookHotel').bookingId,
        description: `${hotel.city}, ${hotel.nights} night${hotel.nights === 1 ? '' : 's'}`,
      },
      ...(car.rented
        ? [{ kind: 'car' as const, reference: car.rentalId, description: `${car.class} car` }]
        : []),
    ];
    const request = { key: ctx.idempotencyKey, tripId, sagaId: ctx.sagaId, travelerId, tickets };
    return this.tickets.issue(request, ctx.signal);
  }
}
