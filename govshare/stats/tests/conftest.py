"""A small city for the statistics tests: built through the services, with the timestamps of applications and
decisions then placed on known days (the rollup reads those timestamps)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from govshare import testing
from govshare.accounts.choices import Role
from govshare.core.calendar import SHANGHAI
from govshare.exchange.models import Application, ApplicationStep
from govshare.exchange.services.applications import act, submit_application
from govshare.exchange.services.grants import Decision
from govshare.registry.services import create_system


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=SHANGHAI)


class City:
    def __init__(self, city: Any, provider: Any, consumer: Any, office: Any) -> None:
        self.city, self.provider, self.consumer, self.office = city, provider, consumer, office
        self.consumer_admin = testing.user(Role.DEPT_ADMIN, dept=consumer.department)
        self.system = create_system(actor=self.consumer_admin, department=consumer.department, name="社保经办系统")
        self.resource = testing.resource(provider.department, name="人口基本信息", publish_by=office,
                                         share_modes=["api"])

    def decided(self, submitted: dt.datetime, decided: dt.datetime | None, *, refuse: bool = False) -> Application:
        """An application submitted at ``submitted`` and decided at ``decided`` (None: still under review)."""
        app = submit_application(actor=self.consumer, resource=self.resource, system=self.system,
                                 items=["id_number", "person_name"], modes=["query"],
                                 purpose="办理社保参保登记核验身份",
                                 valid_to=timezone.localdate() + dt.timedelta(days=365))
        Application.objects.filter(pk=app.pk).update(created_at=submitted)
        ApplicationStep.objects.filter(application=app).update(created_at=submitted)
        if decided is None:
            return app
        app = act(actor=self.office, application=app, action="pass_compliance")
        if refuse:
            act(actor=self.provider, application=app, action="refuse", reason="缺少依据",
                refusal_reason="no_legal_basis")
        else:
            act(actor=self.provider, application=app, action="approve",
                decision=Decision(items={"id_number": "plain", "person_name": "plain"}))
        ApplicationStep.objects.filter(application=app, action__in=["approve", "refuse"]).update(created_at=decided)
        ApplicationStep.objects.filter(application=app, action="pass_compliance").update(created_at=submitted)
        return app


@pytest.fixture
def town(city: Any, provider: Any, consumer: Any, data_office: Any) -> City:
    return City(city, provider, consumer, data_office)
