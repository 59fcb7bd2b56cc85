"""Settings for the worker subprocesses of test_background_worker.py: the project settings plus the test
jobs (``EXTRA_JOB_MODULES``) and short liveness timings, so kill -9 recovery takes seconds, not minutes."""

from govshare.settings import *  # noqa: F403

GOVSHARE = {
    **GOVSHARE,  # noqa: F405
    "EXTRA_JOB_MODULES": ["govshare.core.tests.background_jobs"],
    "WORKER_HEARTBEAT_SECONDS": 0.3,
    "WORKER_DEAD_SECONDS": 2,
    "REAPER_INTERVAL_SECONDS": 0.5,
}
