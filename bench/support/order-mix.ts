/** The `order` saga's demo cards (see sagas/order/payment-provider.service.ts). */
export const CARDS = {
  succeeds: '4242424242424242',
  /** "Provider unavailable" on the first two attempts, then charged: the step is retried. */
  flaky: '4000000000000119',
  /** Declined, not retryable: the saga is compensated. */
  declined: '4000000000000002',
} as const;

export type CardKind = keyof typeof CARDS;

/** Eight in ten succeed at once, one is retried, one is declined, interleaved so every kind runs throughout. */
export function cardKindOf(index: number): CardKind {
  const slot = index % 10;
  return slot === 3 ? 'flaky' : slot === 7 ? 'declined' : 'succeeds';
}

/** What each kind of order should end as. */
export const EXPECTED_STATUS: Record<CardKind, string> = {
  succeeds: 'completed',
  flaky: 'completed',
  declined: 'compensated',
};

/** A valid `order` input: a few items of the seeded SKUs (sku-1 … sku-100). */
export function orderInput(runId: string, index: number) {
  const items = Array.from({ length: 1 + (index % 3) }, (_, i) => ({
    sku: `sku-${1 + ((index * 7 + i * 13) % 100)}`,
    quantity: 1 + ((index + i) % 3),
  }));
  return {
    orderId: `demo-${runId}-${index}`,
    customerId: `customer-${index % 17}`,
    items,
    amount: 10 + (index % 90) + 0.99,
    card: CARDS[cardKindOf(index)],
  };
}
