import { Module } from '@nestjs/common';
import { PaymentModule } from '../payment/payment.module.js';
import { CarRentalService } from './car-rental.service.js';
import { FlightService } from './flight.service.js';
import { HotelService } from './hotel.service.js';
import { TicketService } from './ticket.service.js';
import { TripSaga } from './trip.saga.js';

// A trip pays with a `payment` saga, its child: the engine refuses to boot a trip without it.
@Module({
  imports: [PaymentModule],
  providers: [TripSaga, FlightService, HotelService, CarRentalService, TicketService],
})
export class TripModule {}
