"""Background jobs: declaring jobs and event handlers, the broker, the relay, the runner,
the scheduler and dead letters. See docs/events-and-jobs.md."""
