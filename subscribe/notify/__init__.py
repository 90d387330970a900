"""Push: subscriptions, webhook endpoints, and (later) deliveries, e-mail, feeds and inbox."""
