"""SQLAlchemy tables. Aggregates are stored as a versioned JSON document plus the columns queries need."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Id = String(36)
BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY
Moment = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: Moment}


class PrincipalRow(Base):
    __tablename__ = "principals"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    municipality_code: Mapped[str | None] = mapped_column(String(4))


class OrganisationRow(Base):
    __tablename__ = "organisations"
    __table_args__ = (Index("ix_organisations_name_id", "name", "id"),)  # the admin list's order (0012)
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    has_local_administration: Mapped[bool] = mapped_column(Boolean, default=False)
    care_agreement: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class UnitRow(Base):
    __tablename__ = "units"
    __table_args__ = (Index("ix_units_organisation_name_id", "organisation_id", "name", "id"),)  # admin list (0012)
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30), index=True)
    hsa_id: Mapped[str] = mapped_column(String(64), unique=True)
    municipality_code: Mapped[str | None] = mapped_column(String(4), index=True)
    district: Mapped[str | None] = mapped_column(String(100))
    routing_role: Mapped[str | None] = mapped_column(String(30))  # "intake": receives the municipality's notices
    phone: Mapped[str | None] = mapped_column(String(40))  # for the other parties of a case (migration 0011)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    parent_unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True)
    deactivated_at: Mapped[datetime | None] = mapped_column(Moment)
    # The agreement (its reference, e.g. a diary number) under which a central administrator let this unit route
    # another municipality's patients (migration 0006); None: it serves only its organisation's municipality.
    cross_municipal_agreement: Mapped[str | None] = mapped_column(String(200))


def user_search_key(*parts: str | None) -> str:
    """What a user search compares with: name, username, title and HSA-id, NFKC-normalised and casefolded the
    same way on every database (SQLite's LIKE and lower() fold ASCII only: "åberg" did not find "Åberg")."""
    return "\n".join(unicodedata.normalize("NFKC", p or "").casefold() for p in parts)


def _user_search_key_default(context: Any) -> str:
    p = context.get_current_parameters()
    return user_search_key(p.get("display_name"), p.get("username"), p.get("title"), p.get("hsa_id"))


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (Index("ix_users_organisation_name", "organisation_id", "display_name", "username"),)
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    hsa_id: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(100), default="")
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # When the identifying claim (HSA-id) was given to this user, at creation or a change (migration 0006):
    # tokens issued before it are refused (they were issued to whoever held the HSA-id then).
    identity_changed_at: Mapped[datetime | None] = mapped_column(Moment)
    # user_search_key(display_name, username, title, hsa_id): set on every insert (also a Core insert) by the
    # default, and by the ORM listener below on every change of those columns (migration 0012).
    search_key: Mapped[str] = mapped_column(String(600), default=_user_search_key_default)

    def refresh_search_key(self) -> None:
        self.search_key = user_search_key(self.display_name, self.username, self.title, self.hsa_id)


@event.listens_for(UserRow, "before_update")
def _user_search_key_on_update(_mapper: Any, _connection: Any, target: UserRow) -> None:
    target.refresh_search_key()


class AssignmentRow(Base):
    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("user_id", "unit_id", "role", name="uq_assignments_user_unit_role"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    # The explicit need to see a protected person's name and address (skyddad identitet) at this unit, given by
    # the administrator who manages the user (migration 0004). False: protected identities stay masked.
    protected_identity_access: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class PatientRow(Base):
    """A person's identity, shared by every case and plan of that person: the number, the id that links them, and
    the protection (*skyddad identitet*, set by any registration, cleared only by an administrator with the
    explicit need). Nothing else: name, address, municipality and listing are each case's and plan's own
    (`PersonSnapshot`), so no registration changes what another unit sees (docs/adr/0002-patient-identity.md)."""

    __tablename__ = "patients"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    identity_kind: Mapped[str] = mapped_column(String(20))
    identity_value: Mapped[str] = mapped_column(String(12), unique=True)
    protected_identity: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(Moment)
    # A reserve number whose person was identified: the row of the real identity, which its cases and plans moved
    # to (migration 0009). The row stays: the access log names it.
    merged_into_patient_id: Mapped[str | None] = mapped_column(ForeignKey("patients.id"), index=True)
    merged_at: Mapped[datetime | None] = mapped_column(Moment)


class PersonSnapshot:
    """Columns of a case or plan: the person's details as its creator registered them (migration 0005)."""

    person_name: Mapped[str] = mapped_column(String(200))
    person_address: Mapped[str] = mapped_column(String(300), default="")
    person_municipality_code: Mapped[str] = mapped_column(String(4))
    person_listed_unit_id: Mapped[str | None] = mapped_column(String(36))


@dataclass(frozen=True)
class PersonDetails:
    """What a registration says about the person besides the identity: kept by the case or plan it creates."""

    name: str
    address: str
    municipality_code: str
    listed_unit_id: str | None

    def columns(self) -> dict[str, object]:
        return {"person_name": self.name, "person_address": self.address,
                "person_municipality_code": self.municipality_code, "person_listed_unit_id": self.listed_unit_id}

    @classmethod
    def of(cls, row: PersonSnapshot) -> PersonDetails:
        return cls(row.person_name, row.person_address, row.person_municipality_code, row.person_listed_unit_id)


@dataclass(frozen=True)
class Person:
    """A person as one case or plan shows them: the shared identity and protection with its own details."""

    id: str
    identity_kind: str
    identity_value: str
    protected_identity: bool
    details: PersonDetails

    @classmethod
    def of(cls, patient: PatientRow, details: PersonDetails) -> Person:
        return cls(patient.id, patient.identity_kind, patient.identity_value, patient.protected_identity, details)

    @property
    def name(self) -> str:
        return self.details.name

    @property
    def address(self) -> str:
        return self.details.address

    @property
    def municipality_code(self) -> str:
        return self.details.municipality_code

    @property
    def listed_unit_id(self) -> str | None:
        return self.details.listed_unit_id


class CaseRow(PersonSnapshot, Base):
    __tablename__ = "discharge_cases"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), index=True)
    ward_unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    state: Mapped[str] = mapped_column(String(30), index=True)
    care_type: Mapped[str] = mapped_column(String(20))
    admitted_at: Mapped[datetime] = mapped_column(Moment)
    updated_at: Mapped[datetime] = mapped_column(Moment)
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)


class CaseParticipantRow(Base):
    """Which units see a case: kept in step with the document on every save, for listing and access checks.

    Also the read side's query model of cases (`server/persistence/read_models.py` writes it, in the same
    transaction as the document; `rebuild_read_models` rebuilds it from the documents): per unit that sees the
    case, the case's state and whether it is open, admission time, the deadline thresholds
    (`domain.deadlines.deadline_thresholds`: lists decide the deadline state from them and `now`, in SQL), the
    unit's inbox state (in its inbox, notices it has not acknowledged, the order key) and the patient's name
    search key (migrations 0008 and 0013)."""

    __tablename__ = "case_participants"
    __table_args__ = (Index("ix_case_participants_unit_admitted", "unit_id", "admitted_at", "case_id"),
                      Index("ix_case_participants_unit_state_admitted", "unit_id", "state", "admitted_at"),
                      Index("ix_case_participants_unit_open_admitted", "unit_id", "is_open", "admitted_at", "case_id"),
                      Index("ix_case_participants_unit_open_overdue", "unit_id", "is_open", "overdue_from"),
                      Index("ix_case_participants_inbox", "unit_id", "in_inbox", "has_unread", "inbox_at", "case_id"),
                      Index("ix_case_participants_unit_name", "unit_id", "name_key",
                            postgresql_ops={"name_key": "text_pattern_ops"}))
    case_id: Mapped[str] = mapped_column(ForeignKey("discharge_cases.id"), primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), primary_key=True, index=True)
    part: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(30))
    is_open: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    admitted_at: Mapped[datetime] = mapped_column(Moment)
    at_risk_from: Mapped[datetime | None] = mapped_column(Moment, index=True)  # indexed for the escalation scan
    overdue_from: Mapped[datetime | None] = mapped_column(Moment, index=True)  # (migration 0014)
    # The unit's inbox (`DischargeCase.in_inbox_of`), its unacknowledged notices, and the inbox order: cases with
    # unread notices first (`has_unread`), then by `inbox_at` (the newest unread notice, else the admission) newest
    # first. Keyset pages walk the index (unit_id, in_inbox, has_unread, inbox_at, case_id) backwards.
    in_inbox: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    unread: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    has_unread: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    inbox_at: Mapped[datetime | None] = mapped_column(Moment)
    # The patient's name as the case records it, normalised (`read_models.name_key`): "Sök patient" by prefix.
    name_key: Mapped[str] = mapped_column(String(200), default="", server_default="")


class EventRow(Base):
    """The event log and outbox: one row per event; `published_at` is set once the broker has it."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(Id, unique=True)
    type: Mapped[str] = mapped_column(String(60))
    aggregate_type: Mapped[str] = mapped_column(String(30))
    aggregate_id: Mapped[str] = mapped_column(Id, index=True)
    aggregate_version: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(Moment)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[datetime | None] = mapped_column(Moment, index=True)


class FeedRow(Base):
    """The head of one feed. Its row lock, held to commit, makes positions gapless and commit-ordered."""

    __tablename__ = "feeds"
    feed: Mapped[str] = mapped_column(String(80), primary_key=True)
    last_position: Mapped[int] = mapped_column(BigInteger, default=0)


class FeedEntryRow(Base):
    __tablename__ = "feed_entries"
    feed: Mapped[str] = mapped_column(String(80), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_pk: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)


class AccessLogRow(Base):
    """Åtkomstlogg (HSLF-FS 2016:40 4 kap. 9 §): append-only, one row per read or write of patient data.

    Requests only insert rows (the seal columns empty). The sealer (server/access_log.py) later gives each row
    its place in a hash chain, exactly once: `seq` (gapless), `prev_hash` (the row before's `row_hash`),
    `row_hash` over the row's content and `prev_hash`, and `key_id`: the HMAC-SHA256 key it was sealed with
    (NULL: the unkeyed SHA-256 of rows sealed before migration 0007), so a changed or removed sealed row shows.
    Database triggers refuse UPDATE except that one sealing (empty seal columns filled, nothing else changed),
    and DELETE except of sealed rows older than 5 years that a purge checkpoint covers (migrations 0002, 0007)."""

    __tablename__ = "access_log"
    # Log review reads newest first by (at, id), with at most one filter column in front (migration 0012): a page
    # of any filter is a short walk of one index, however long the log.
    __table_args__ = (Index("ix_access_log_at_id", "at", "id"),
                      Index("ix_access_log_patient_at_id", "patient_id", "at", "id"),
                      Index("ix_access_log_unit_at_id", "unit_id", "at", "id"),
                      Index("ix_access_log_user_at_id", "user_id", "at", "id"),
                      Index("ix_access_log_user_hsa_at_id", "user_hsa_id", "at", "id"),
                      Index("ix_access_log_action_at_id", "action", "at", "id"),
                      # what the sealer reads, oldest first; small, as only the last second's rows are in it
                      Index("ix_access_log_unsealed", "id", postgresql_where=text("seq IS NULL"),
                            sqlite_where=text("seq IS NULL")))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[str | None] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(Moment)
    user_id: Mapped[str] = mapped_column(Id)
    user_hsa_id: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[str | None] = mapped_column(Id)
    patient_id: Mapped[str] = mapped_column(Id)
    case_id: Mapped[str | None] = mapped_column(Id)
    action: Mapped[str] = mapped_column(String(60))
    purpose: Mapped[str] = mapped_column(String(60))


class AccessLogChainRow(Base):
    """The head of the access log's hash chain (one row): the last sealed row. Only sealers lock it, one short
    transaction at a time; requests never touch it. A trigger lets it only move forward, to a sealed row
    (migration 0007)."""

    __tablename__ = "access_log_chain"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class AccessLogCheckpointRow(Base):
    """A purge of the access log: rows before `next_seq` are gone; `anchor_hash` is the last one's row_hash.

    `mac`: HMAC-SHA256 over the checkpoint with the key `key_id` (NULL on checkpoints from before migration
    0007), so that nobody without the key can write one. Insert-only (triggers, migration 0007)."""

    __tablename__ = "access_log_checkpoints"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(Moment)
    cutoff: Mapped[datetime] = mapped_column(Moment)
    retention_days: Mapped[int] = mapped_column(Integer)
    next_seq: Mapped[int] = mapped_column(BigInteger, index=True)
    anchor_hash: Mapped[str] = mapped_column(String(64))
    rows_purged: Mapped[int] = mapped_column(BigInteger)
    key_id: Mapped[str | None] = mapped_column(String(16))
    mac: Mapped[str | None] = mapped_column(String(64))


class LogReviewRow(Base):
    """A log review (loggkontroll): a random sample of a unit's access log for a period, and its outcome."""

    __tablename__ = "log_reviews"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)
    period_from: Mapped[datetime] = mapped_column(Moment)
    period_to: Mapped[datetime] = mapped_column(Moment)
    seed: Mapped[int] = mapped_column(BigInteger)
    sample_size: Mapped[int] = mapped_column(Integer)
    population: Mapped[int] = mapped_column(Integer)
    created_by_user_id: Mapped[str] = mapped_column(Id)
    created_at: Mapped[datetime] = mapped_column(Moment)
    finding: Mapped[str | None] = mapped_column(String(30))
    comment: Mapped[str] = mapped_column(Text, default="")
    concluded_by_user_id: Mapped[str | None] = mapped_column(Id)
    concluded_at: Mapped[datetime | None] = mapped_column(Moment)


class LogReviewEntryRow(Base):
    """One sampled access-log entry of a review, with its own documented outcome."""

    __tablename__ = "log_review_entries"
    review_id: Mapped[str] = mapped_column(ForeignKey("log_reviews.id"), primary_key=True)
    log_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    finding: Mapped[str | None] = mapped_column(String(30))
    comment: Mapped[str] = mapped_column(Text, default="")
    reviewed_by_user_id: Mapped[str | None] = mapped_column(Id)
    reviewed_at: Mapped[datetime | None] = mapped_column(Moment)


class AdminLogRow(Base):
    """Who changed the organisation tree, a user or an assignment, and when (behörighetstilldelning documented)."""

    __tablename__ = "admin_log"
    __table_args__ = (Index("ix_admin_log_organisation_id_id", "organisation_id", "id"),)  # newest first (0012)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(Moment)
    actor_user_id: Mapped[str] = mapped_column(Id)
    actor_hsa_id: Mapped[str] = mapped_column(String(64))
    organisation_id: Mapped[str] = mapped_column(Id)
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(30))
    target_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class IdempotencyRow(Base):
    __tablename__ = "idempotency_keys"
    user_id: Mapped[str] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Moment, index=True)


class PaymentAmountRow(Base):
    """Socialstyrelsen's national amount per day of care, per year, entered by an administrator."""

    __tablename__ = "payment_amounts"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    amount_sek: Mapped[int] = mapped_column(Integer)
    entered_by_user_id: Mapped[str] = mapped_column(Id)
    entered_at: Mapped[datetime] = mapped_column(Moment)


# SIP tables and e-mail notice tables (migration 0014) on the same metadata, for Alembic
from server.persistence import mail_models, sip_models  # noqa: E402, F401
