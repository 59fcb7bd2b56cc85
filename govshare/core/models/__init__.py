"""Core models: abstract bases plus the framework tables (holiday calendar)."""

from govshare.core.models.base import BaseModel, NodeOwnedModel
from govshare.core.models.epoch import AuthzEpoch
from govshare.core.models.holidays import HolidayDay, HolidayYear
from govshare.core.models.jobs import JobStatus, ScheduledJob, WorkerHeartbeat
from govshare.core.models.keys import DataKey

__all__ = ["AuthzEpoch", "BaseModel", "DataKey", "HolidayDay", "HolidayYear", "JobStatus", "NodeOwnedModel",
           "ScheduledJob", "WorkerHeartbeat"]
