"""Settings of the ``govshare worker`` subprocesses of test_kill_worker.py: the project settings with short
liveness timings and a short subscription lease, so recovery after kill -9 takes seconds, not minutes."""

from govshare.settings import *  # noqa: F403

GOVSHARE = {
    **GOVSHARE,  # noqa: F405
    "WORKER_HEARTBEAT_SECONDS": 0.3,
    "WORKER_DEAD_SECONDS": 2,
    "REAPER_INTERVAL_SECONDS": 0.5,
    "SUBSCRIPTION_LEASE_SECONDS": 2,
    "SUBSCRIPTION_BACKOFF_BASE_SECONDS": 0,
    "SUBSCRIPTION_WEBHOOK_TIMEOUT_SECONDS": 60,
}
