/** How each demo trip goes (see sagas/trip and sagas/payment). */
export type TripKind = 'approved' | 'approvedEarly' | 'rejected' | 'declined';

export const TRIP_KINDS: Record<TripKind, string> = {
  approved: 'approved once it waits for approval, then paid by a child payment saga: completed',
  approvedEarly: 'approved right after the start, before it waits (the signal is kept until then): completed',
  rejected: 'rejected by the approver: its bookings are cancelled in reverse order, compensated',
  declined: 'approved, but the card is declined: the child payment fails, so does pay, compensated',
};

/** Mostly approved trips, interleaved with one of each other kind. */
const PATTERN: TripKind[] = ['approved', 'approvedEarly', 'approved', 'rejected', 'approved', 'declined'];

export function tripKindOf(index: number): TripKind {
  return PATTERN[index % PATTERN.length];
}

export const TRIP_EXPECTED_STATUS: Record<TripKind, string> = {
  approved: 'completed',
  approvedEarly: 'completed',
  rejected: 'compensated',
  declined: 'compensated',
};

/** Destination SLO answers after 2 s: its trip shows the flight still booking while the others are done. */
const ROUTES = [
  { from: 'LHR', to: 'LIS', city: 'Lisbon' },
  { from: 'CDG', to: 'SLO', city: 'Ljubljana' },
  { from: 'FRA', to: 'BCN', city: 'Barcelona' },
  { from: 'AMS', to: 'ATH', city: 'Athens' },
  { from: 'MAD', to: 'OSL', city: 'Oslo' },
];
/** `suv`: the rental desk is busy twice before it answers (rentCar is retried). */
const CARS = [undefined, 'economy', 'suv', 'compact'] as const;

/** A valid `trip` input; its approval is sent by the demo, so it waits at most a minute for it. */
export function tripInput(runId: string, index: number) {
  const route = ROUTES[index % ROUTES.length];
  const car = CARS[index % CARS.length];
  return {
    tripId: `demo-${runId}-trip-${index}`,
    travelerId: `traveler-${index % 7}`,
    flight: { from: route.from, to: route.to },
    hotel: { city: route.city, nights: 1 + (index % 5) },
    ...(car ? { car: { class: car } } : {}),
    amount: 400 + index * 37.5,
    card: tripKindOf(index) === 'declined' ? '4000000000000002' : '4242424242424242',
    approvalTimeoutMs: 60_000,
  };
}
