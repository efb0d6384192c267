/** Every webhook event type, read from the OpenAPI document's `webhooks` at build time. */
declare const __EVENT_TYPES__: string[];
