"""Tables of SIP plans, on the same declarative `Base` as the other models (collected by `models.py`).

A plan is stored like a discharge case: the aggregate as a versioned JSON document plus the columns that
listing needs (owner unit, state, next follow-up date, case id), and `sip_plan_units`, the units that see the
plan (`SipPlan.visible_unit_ids()`), kept in step with the document on every save, for "my unit's plans" and
access checks. Plans go with their patient (ON DELETE CASCADE); a plan outlives a deleted case (SET NULL).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.persistence.models import Base, Id, Moment, PersonSnapshot

FAR_DAY = date(9999, 12, 31)  # the follow-up order key of a plan without a follow-up date


class SipPlanRow(PersonSnapshot, Base):
    __tablename__ = "sip_plans"
    __table_args__ = (Index("ix_sip_plans_state_follow_up", "state", "next_follow_up_on"),)
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("discharge_cases.id", ondelete="SET NULL"), index=True)
    owner_unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    state: Mapped[str] = mapped_column(String(30))
    next_follow_up_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(Moment)
    updated_at: Mapped[datetime] = mapped_column(Moment)
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)


class SipPlanUnitRow(Base):
    """Which units see a plan now (owner plus the participating units the consent in force names), and the SIP
    list's query model per unit (migration 0013): the plan's state, its follow-up date as an order key (`FAR_DAY`
    when none, so plans without one come last) and its creation time, written with the plan by
    `server/persistence/read_models.py`."""

    __tablename__ = "sip_plan_units"
    __table_args__ = (Index("ix_sip_plan_units_unit_follow_up", "unit_id", "follow_up_key", "created_at", "plan_id"),
                      Index("ix_sip_plan_units_unit_state_follow_up", "unit_id", "state", "follow_up_key"))
    plan_id: Mapped[str] = mapped_column(ForeignKey("sip_plans.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), primary_key=True, index=True)
    state: Mapped[str] = mapped_column(String(30), default="", server_default="")
    follow_up_key: Mapped[date] = mapped_column(Date, default=FAR_DAY, server_default=FAR_DAY.isoformat())
    created_at: Mapped[datetime | None] = mapped_column(Moment)
