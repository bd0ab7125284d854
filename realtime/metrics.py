"""Prometheus metrics of the live pipeline (exposed by the API at /metrics)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge


@dataclass(frozen=True)
class Metrics:
    published: Counter = field(default_factory=lambda: Counter(
        "samplan_events_published", "Event frames published to the broker"))
    publish_failures: Counter = field(default_factory=lambda: Counter(
        "samplan_publish_failures", "Broker publishes that failed (the relay retries)"))
    delivered: Counter = field(default_factory=lambda: Counter(
        "samplan_events_delivered", "Event frames sent to stream subscribers"))
    replayed: Counter = field(default_factory=lambda: Counter(
        "samplan_events_replayed", "Event frames sent from the event log (resume, gap fill, catch-up)"))
    duplicates_dropped: Counter = field(default_factory=lambda: Counter(
        "samplan_duplicates_dropped", "Event frames dropped because the subscriber already had them"))
    resyncs: Counter = field(default_factory=lambda: Counter(
        "samplan_resyncs", "Resync messages sent", ["reason"]))
    overflows: Counter = field(default_factory=lambda: Counter(
        "samplan_subscriber_overflows", "Subscriber queues that overflowed"))
    subscribers: Gauge = field(default_factory=lambda: Gauge(
        "samplan_stream_subscribers", "Connected stream subscribers"))
    relay_lag: Gauge = field(default_factory=lambda: Gauge(
        "samplan_relay_lag_seconds", "Age of the oldest committed event not yet published"))
    relayed: Counter = field(default_factory=lambda: Counter(
        "samplan_events_relayed", "Events published by the relay (not by their own request)"))


METRICS = Metrics()
