import { z } from 'zod';

export const PaymentInput = z.object({
  paymentId: z.string().min(1).max(100),
  amount: z.number().positive().max(1e9),
  card: z.string().regex(/^\d{12,19}$/, 'must be 12 to 19 digits'),
});

export type PaymentInput = z.infer<typeof PaymentInput>;
