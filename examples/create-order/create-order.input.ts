import { z } from 'zod';

/** What `POST /sagas/create-order` takes: an order for one restaurant, its total in cents. */
export const CreateOrderInput = z.object({
  orderId: z.string().min(1).max(100),
  consumerId: z.string().min(1).max(100),
  restaurantId: z.string().min(1).max(100),
  lineItems: z
    .array(z.object({ menuItemId: z.string().min(1).max(100), quantity: z.int().min(1).max(100) }))
    .min(1)
    .max(50),
  totalCents: z.int().positive(),
});

export type CreateOrderInput = z.infer<typeof CreateOrderInput>;
export type LineItem = CreateOrderInput['lineItems'][number];
