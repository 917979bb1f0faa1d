"""Kafka topic names: one topic per producing service, plus its dead-letter topic."""

IDENTITY = "ants.identity.v1"
REQUESTS = "ants.requests.v1"
CERT = "ants.cert.v1"
PAYMENT = "ants.payment.v1"
DOCUMENTS = "ants.documents.v1"
# Publishes nothing yet: it only sends e-mails (its outbox relay finds nothing to publish).
NOTIFICATIONS = "ants.notifications.v1"

BY_PRODUCER = {
    "identity": IDENTITY,
    "requests": REQUESTS,
    "cert": CERT,
    "payment": PAYMENT,
    "documents": DOCUMENTS,
    "notifications": NOTIFICATIONS,
}

# Every service's signed log checkpoints (see ants_events.checkpoints), keyed by service.
CHECKPOINTS = "ants.checkpoints.v1"

ALL = (*BY_PRODUCER.values(), CHECKPOINTS)


def dead_letter(topic: str) -> str:
    return f"{topic}.dlq"
