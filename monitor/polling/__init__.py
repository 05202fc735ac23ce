"""Polling: when each feed is due (``schedule``), polling it (``poller``), the APScheduler
shell that runs the polls (``scheduler``), feed health (``health``), the alerts a match
makes (``alerts``), and a body a WebSub hub pushed (``push``)."""
