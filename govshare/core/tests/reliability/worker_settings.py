"""Settings of the ``govshare worker`` processes of the reliability tests: the project settings with short
liveness timings and leases, so recovery after kill -9 takes seconds instead of minutes (the defaults are
30 s to declare a worker dead and 120 s leases; see docs/background-work.md)."""

from govshare.settings import *  # noqa: F403

GOVSHARE = {
    **GOVSHARE,  # noqa: F405
    "WORKER_HEARTBEAT_SECONDS": 0.3,
    "WORKER_DEAD_SECONDS": 2,
    "REAPER_INTERVAL_SECONDS": 0.5,
    "JOB_LEASE_SECONDS": 4,
    "SUBSCRIPTION_LEASE_SECONDS": 2,
    "SUBSCRIPTION_BACKOFF_BASE_SECONDS": 0,
    "CONNECTOR_LEASE_SECONDS": 2,
}
