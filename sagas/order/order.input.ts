import { z } from 'zod';

export const OrderInput = z.object({
  orderId: z.string().min(1).max(100),
  customerId: z.string().min(1).max(100),
  items: z
    .array(z.object({ sku: z.string().min(1).max(100), quantity: z.int().min(1) }))
    .min(1)
    .max(50),
  amount: z.number().positive().max(1e9),
  card: z.string().regex(/^\d{12,19}$/, 'must be 12 to 19 digits'),
});

export type OrderInput = z.infer<typeof OrderInput>;
export type OrderItem = OrderInput['items'][number];
