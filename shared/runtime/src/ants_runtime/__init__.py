"""What every duplicata service shares: event store, outbox relay, Kafka consumer, auth, HTTP."""
