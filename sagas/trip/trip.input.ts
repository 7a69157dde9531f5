import { z } from 'zod';

const iataCode = z.string().regex(/^[A-Z]{3}$/, 'must be an IATA code: 3 capital letters');

export const CAR_CLASSES = ['economy', 'compact', 'suv'] as const;

export const TripInput = z.object({
  tripId: z.string().min(1).max(100),
  travelerId: z.string().min(1).max(100),
  flight: z.object({ from: iataCode, to: iataCode }),
  hotel: z.object({ city: z.string().min(1).max(100), nights: z.int().min(1).max(30) }),
  car: z.object({ class: z.enum(CAR_CLASSES) }).optional(),
  amount: z.number().positive().max(1e9),
  card: z.string().regex(/^\d{12,19}$/, 'must be 12 to 19 digits'),
  /** How long the trip waits for its approval, in ms: 100 ms to 7 days. @defaultValue one day */
  approvalTimeoutMs: z.int().min(100).max(604_800_000).default(86_400_000),
});

/** The trip as its steps see it, defaults applied. */
export type TripInput = z.infer<typeof TripInput>;
export type CarClass = (typeof CAR_CLASSES)[number];

/** The payload of signal `approval`: `POST /sagas/{id}/signals/approval`. */
export const Approval = z.object({ approved: z.boolean(), by: z.string().min(1).max(100) });

export type Approval = z.infer<typeof Approval>;
