"""Delivery: the outbox worker, the retry policy and the channels that send alerts."""
