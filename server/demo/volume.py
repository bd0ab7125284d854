"""Region-sized case history (`samplan seed --volume stockholm`): invented patients' discharge cases, each built
step by step through the domain (`DischargeCase`), so every case is valid by the rules.

Deterministic: case `i` of a plan depends only on the plan (seed, years, scale, now) and `i`, never on the wall
clock, the number of worker processes or the order chunks are generated in. Ids are uuid5 of the plan's seed.

The history of a case follows the process (shared/domain/process.md): registration, the admission notice
(sometimes late), acknowledgements (sometimes never), planning (with corrections), estimate changes back and
forth, SIP where it applies, ready for discharge (sometimes withdrawn and sent again), leave, the discharge notice
and closing; some cases are interrupted (died, moved) or cancelled (sent by mistake). Only the steps whose time has
come by `now` happen: recent cases are open, in whatever state their history has reached.
"""

from __future__ import annotations

import contextlib
import math
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

import msgspec

from domain.care import CareType
from domain.discharge_case import Actor, DischargeCase, InterruptionReason, Part
from domain.discharge_notice import AfterDischargeContact, Destination, DischargeInformation, MedicationList
from domain.identity import luhn_check_digit
from domain.payment import PaymentPolicy
from domain.planning import HomeReadiness, Need, PlanningForm
from realtime.envelope import AggregateType
from server.demo import region
from server.persistence.documents import to_document
from server.persistence.event_log import event_data
from server.persistence.read_models import case_rows

CASES_PER_YEAR = 60_000  # at scale 1: the county's discharges that need coordination, roughly
CHUNK_SIZE = 250  # cases per unit of work (a worker's task); each case has its own random stream
PSYCHIATRIC_SHARE = 0.12
PATIENT_POOL = 1.5  # patient numbers per case drawn from: about a quarter of cases are readmissions
FIRST_BIRTH = date(1925, 1, 1)
BIRTH_DAYS = (date(1975, 1, 1) - FIRST_BIRTH).days
SERIALS = range(900, 1000)  # invented identities: serial numbers 900-999 with a valid check digit
IDENTITY_CAPACITY = BIRTH_DAYS * len(SERIALS)
IDENTITY_STRIDE = 1_000_003  # prime, coprime with IDENTITY_CAPACITY: patient number -> identity is a bijection
GOLDEN = (math.sqrt(5) - 1) / 2
ACCESS_ACTION = {  # the access log names a change by its command (server.access_log.action_of)
    "registered": "register_case", "admission_notice_sent": "send_admission_notice",
    "needs_identified": "record_needs_identified", "acknowledged": "acknowledge",
    "participant_added": "add_participant", "named_care_contact_appointed": "appoint_named_care_contact",
    "estimated_discharge_changed": "change_estimated_discharge", "planning_updated": "update_planning",
    "ready_for_discharge": "mark_ready_for_discharge", "ready_for_discharge_withdrawn": "withdraw_ready_for_discharge",
    "sip_applies": "set_sip_applies", "sip_not_applies": "set_sip_applies",
    "sip_invitation_sent": "send_sip_invitation", "home_readiness_updated": "update_home_readiness",
    "leave_started": "start_leave", "leave_ended": "end_leave", "discharge_notice_sent": "send_discharge_notice",
    "interrupted": "interrupt", "cancelled": "cancel", "closed": "close",
}
STREETS = ("Exempelvägen", "Provgatan", "Testgränd", "Demostigen", "Påhittade allén", "Fiktiva torget")
SERVICES = ("Hemtjänst 2 ggr/dag", "Hemtjänst 4 ggr/dag", "Inga insatser", "Trygghetslarm", "Matdistribution")
ADL = ("Behöver stöd vid förflyttning", "Klarar sig själv inomhus", "Behöver hjälp med personlig hygien", "")
HANDOVER = ("Går med rollator. Behöver tillsyn nattetid.", "Sårvård varannan dag enligt ordination.",
            "Mår bra. Uppföljning på vårdcentralen om två veckor.", "Ny insulinbehandling, se läkemedelslistan.")


@dataclass(frozen=True)
class Plan:
    """What to generate: `years` of history ending at `now`, `scale` × CASES_PER_YEAR cases a year."""

    years: int
    scale: float
    seed: int
    now: datetime
    policy: PaymentPolicy

    @property
    def total_cases(self) -> int:
        return max(1, round(CASES_PER_YEAR * self.years * self.scale))

    @property
    def chunks(self) -> int:
        return -(-self.total_cases // CHUNK_SIZE)

    @property
    def start(self) -> datetime:
        return self.now - timedelta(days=365 * self.years)

    def id(self, kind: str, key: object) -> str:
        return str(uuid.uuid5(_namespace(self.seed), f"{kind}:{key}"))


@cache
def _namespace(seed: int) -> uuid.UUID:
    return uuid.uuid5(region.NAMESPACE, f"volume:{seed}")


# ----- who: municipality, patient, ward, receivers ----------------------------------------------------------------

@dataclass(frozen=True)
class Shares:
    """Each municipality's share of cases (its population's), and its pool of patient numbers."""

    codes: tuple[str, ...]
    bounds: tuple[float, ...]  # cumulative shares
    pool_start: tuple[int, ...]
    pool_size: tuple[int, ...]

    @classmethod
    def of(cls, plan: Plan) -> Shares:
        people = region.municipalities()
        total = sum(m.population for m in people)
        bounds, acc, starts, sizes, start = [], 0.0, [], [], 0
        for m in people:
            acc += m.population / total
            bounds.append(acc)
            size = max(1, round(plan.total_cases * m.population / total * PATIENT_POOL))
            starts.append(start)
            sizes.append(size)
            start += size
        if start > IDENTITY_CAPACITY:
            raise ValueError(f"scale too large: {start} patients, {IDENTITY_CAPACITY} invented identities")
        return cls(tuple(m.code for m in people), tuple(bounds), tuple(starts), tuple(sizes))

    def municipality(self, plan: Plan, index: int) -> int:
        """Equidistributed (golden-ratio sequence): counts per municipality match the shares to a few cases."""
        x = (index * GOLDEN + (plan.seed % 1000) / 1000) % 1.0
        for n, bound in enumerate(self.bounds):
            if x < bound:
                return n
        return len(self.bounds) - 1


@dataclass(frozen=True)
class Patient:
    id: str
    identity_value: str
    protected: bool
    name: str
    address: str
    municipality_code: str
    listed_unit_key: str | None
    district_unit_key: str  # the municipal intake unit (Stockholms stad: by district)


def patient(plan: Plan, shares: Shares, municipality: int, number: int) -> Patient:
    code = shares.codes[municipality]
    g = shares.pool_start[municipality] + number
    rng = random.Random(f"{plan.seed}:patient:{g}")
    slot = (g * IDENTITY_STRIDE) % IDENTITY_CAPACITY
    birth = FIRST_BIRTH + timedelta(days=slot % BIRTH_DAYS)
    serial = SERIALS[slot // BIRTH_DAYS]
    nine = f"{birth.year % 100:02d}{birth.month:02d}{birth.day:02d}{serial:03d}"
    identity = f"{birth.year:04d}{nine[2:]}{luhn_check_digit(nine)}"
    care = region.primary_care_units(code)
    listed_key = rng.choice(care).key if care and rng.random() < 0.9 else None
    intake = region.intake_units(code)
    name = f"{rng.choice(region.FIRST_NAMES)} {rng.choice(region.LAST_NAMES)}"
    return Patient(plan.id("patient", g), identity, rng.random() < 0.01, name,
                   f"{rng.choice(STREETS)} {rng.randrange(1, 120)}", code, listed_key, rng.choice(intake).key)


def _ward(rng: random.Random, code: str, psychiatric: bool) -> region.RegionUnit:
    candidates, weights = _ward_weights(code, psychiatric)
    return rng.choices(candidates, cum_weights=weights)[0]


@cache
def _ward_weights(code: str, psychiatric: bool) -> tuple[tuple[region.RegionUnit, ...], tuple[int, ...]]:
    """The wards of a kind, weighted: the municipality's local hospitals' wards take most of its patients."""
    local = set(region.local_hospitals(code))
    kind = "psychiatric_ward" if psychiatric else "somatic_ward"
    candidates = tuple(w for w in region.wards() if w.kind == kind)
    cumulative, total = [], 0
    for w in candidates:
        total += 6 if w.organisation_key in local else 1
        cumulative.append(total)
    return candidates, tuple(cumulative)


# ----- one case -----------------------------------------------------------------------------------------------------

class _Later(Exception):
    """The next step's time has not come by `now`: the case stays as it is."""


@dataclass
class History:
    """A case as built through the domain, with the version each event was recorded at."""

    case: DischargeCase
    patient: Patient
    versions: list[int] = field(default_factory=list)  # per event in `events`
    events: list[Any] = field(default_factory=list)
    updated_at: datetime | None = None


class _Builder:
    def __init__(self, plan: Plan, rng: random.Random, history: History) -> None:
        self.plan, self.rng, self.h = plan, rng, history
        self.t = history.case.admitted_at

    def at(self, hours: float) -> datetime:
        """The next step's time, `hours` after the previous one; _Later when it is after `now`."""
        t = self.t + timedelta(hours=max(hours, 1 / 60))
        if t >= self.plan.now:
            raise _Later
        self.t = t
        return t

    def do(self, method: Callable[..., object], *args: object, **kwargs: object) -> None:
        """Apply one step (one command: one version of the case when it records anything)."""
        before = len(self.h.case.pending_events)
        method(*args, **kwargs)
        if len(self.h.case.pending_events) > before:
            self.h.case.version += 1
            new = self.h.case.pending_events[before:]
            self.h.events.extend(new)
            self.h.versions.extend([self.h.case.version] * len(new))
            self.h.updated_at = new[-1].occurred_at


def build_case(plan: Plan, shares: Shares, index: int) -> History:
    """Case `index` of the plan, built through the domain up to `now`."""
    rng = random.Random(f"{plan.seed}:case:{index}")
    span = (plan.now - plan.start).total_seconds()
    admitted = plan.start + timedelta(seconds=span * (index + rng.random()) / plan.total_cases)
    admitted = admitted.replace(microsecond=0)
    m = shares.municipality(plan, index)
    person = patient(plan, shares, m, rng.randrange(shares.pool_size[m]))
    psychiatric = rng.random() < PSYCHIATRIC_SHARE
    ward = _ward(rng, person.municipality_code, psychiatric)
    nurse = Actor(rng.choice(region.staff_of(ward.key)).id, ward.id)
    intake = region.unit(person.district_unit_key)
    receiving: list[tuple[str, Part]] = [(intake.id, Part.MUNICIPAL)]
    primary_key = person.listed_unit_key
    if psychiatric and region.psychiatric_outpatient_units(person.municipality_code):
        primary_key = region.psychiatric_outpatient_units(person.municipality_code)[0].key
    if primary_key:
        receiving.append((region.stable_id("unit", primary_key), Part.PRIMARY_CARE))
    actors = {intake.id: Actor(rng.choice(region.staff_of(intake.key)).id, intake.id)}
    if primary_key:
        actors[receiving[1][0]] = Actor(rng.choice(region.staff_of(primary_key)).id, receiving[1][0])
    stay_days = rng.uniform(10, 45) if psychiatric else rng.lognormvariate(1.6, 0.5)
    case = DischargeCase.register(
        patient_id=person.id, care_type=CareType.PSYCHIATRIC if psychiatric else CareType.SOMATIC,
        admitted_at=admitted, actor=nurse, receiving=receiving, now=admitted + timedelta(minutes=rng.randrange(5, 90)),
        estimated_discharge_at=admitted + timedelta(days=max(1.0, stay_days + rng.uniform(-2, 2))),
        case_id=plan.id("case", index))
    case.version = 1
    history = History(case, person, [1] * len(case.pending_events), list(case.pending_events),
                      case.pending_events[-1].occurred_at)
    b = _Builder(plan, rng, history)
    b.t = history.updated_at or admitted
    if b.t >= plan.now:  # registered after `now`: not yet in the data set's world
        raise _Later
    with contextlib.suppress(_Later):
        _story(b, nurse, actors, receiving, stay_days, psychiatric, intake.key, person)
    case.pending_events.clear()
    return history


def _story(b: _Builder, nurse: Actor, actors: dict[str, Actor], receiving: list[tuple[str, Part]], stay_days: float,
           psychiatric: bool, intake_key: str, person: Patient) -> None:
    rng, case = b.rng, b.h.case
    receivers = list(actors.values())
    primary = next((actors[u] for u, p in receiving if p is Part.PRIMARY_CARE), None)
    # the admission notice, within 24 hours as a rule, late now and then
    b.do(case.send_admission_notice, nurse, b.at(rng.choice((1, 2, 4, 8, 16, 20)) if rng.random() < 0.9
                                                 else rng.uniform(25, 60)))
    if rng.random() < 0.02:  # felsänt
        b.do(case.cancel, nurse, b.at(rng.uniform(0.2, 6)))
        return
    _acknowledge(b, receivers, never=0.08)
    if primary and rng.random() < 0.5:
        b.do(case.appoint_named_care_contact, primary, primary.user_id, b.at(rng.uniform(2, 30)))
    municipal = receivers[0]
    b.do(case.update_planning, municipal, _form(rng), b.at(rng.uniform(4, 40)))
    if rng.random() < 0.3:  # a correction of the planning notes
        b.do(case.update_planning, municipal, _form(rng), b.at(rng.uniform(2, 24)))
    if rng.random() < 0.35:
        b.do(case.update_planning, nurse, _form(rng), b.at(rng.uniform(1, 12)))
    for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):  # estimates back and forth
        estimate = case.admitted_at + timedelta(days=max(1.0, stay_days + rng.uniform(-3, 4)))
        b.do(case.change_estimated_discharge, nurse, estimate, b.at(rng.uniform(6, 48)))
        _acknowledge(b, receivers, never=0.3)
    home_care = region.home_care_unit(person.municipality_code)
    if home_care and rng.random() < 0.1:
        b.do(case.add_participant, nurse, home_care.id, Part.MUNICIPAL, b.at(rng.uniform(2, 24)))
    sip = rng.random() < 0.35
    b.do(case.set_sip_applies, rng.choice([*receivers, nurse]), sip, b.at(rng.uniform(1, 24)))
    if rng.random() < 0.05:  # died, moved to another hospital, compulsory outpatient care ...
        reasons = [InterruptionReason.DIED, InterruptionReason.MOVED_TO_OTHER_HOSPITAL, InterruptionReason.NO_NEEDS,
                   InterruptionReason.OTHER]
        if psychiatric:
            reasons.append(InterruptionReason.COMPULSORY_OUTPATIENT_CARE)
        b.do(case.interrupt, nurse, rng.choice(reasons), b.at(rng.uniform(6, 72)))
        _close(b, nurse)
        return
    ready_after = max(0.5, stay_days * 24 - (b.t - case.admitted_at).total_seconds() / 3600)
    if rng.random() < 0.15:  # ready, withdrawn (new findings), ready again later
        b.do(case.mark_ready_for_discharge, nurse, b.at(ready_after * rng.uniform(0.5, 0.9)))
        _acknowledge(b, receivers, never=0.2)
        b.do(case.withdraw_ready_for_discharge, nurse, b.at(rng.uniform(4, 48)))
        ready_after = rng.uniform(24, 96)
    if rng.random() < 0.04:
        b.do(case.start_leave, nurse, b.at(rng.uniform(6, 24)))
        b.do(case.end_leave, nurse, b.at(rng.uniform(10, 48)))
    if sip and primary and rng.random() < 0.7:
        b.do(case.send_sip_invitation, primary, b.at(rng.uniform(2, 48)))
    b.do(case.mark_ready_for_discharge, nurse, b.at(ready_after))
    _acknowledge(b, receivers, never=0.05)
    if rng.random() < 0.3:
        b.do(case.update_home_readiness, nurse,
             HomeReadiness(medicines_secured=True, aids_in_place=True, patient_informed=rng.random() < 0.8,
                           next_provider_informed=rng.random() < 0.7), b.at(rng.uniform(1, 12)))
    wait = rng.uniform(2, 30) if rng.random() < 0.8 else rng.uniform(30, 160)  # some wait for municipal services
    notice_at = b.at(wait)
    left = notice_at - timedelta(minutes=rng.randrange(0, 240))
    left = max(left, case.ready_for_discharge_at or left)
    b.do(case.send_discharge_notice, nurse, left, notice_at, information=_information(rng))
    _acknowledge(b, receivers, never=0.1)
    _close(b, nurse)


def _close(b: _Builder, nurse: Actor) -> None:
    if b.rng.random() < 0.97:  # a few are never closed
        b.do(b.h.case.close, nurse, b.at(b.rng.uniform(12, 240)))


def _acknowledge(b: _Builder, receivers: list[Actor], never: float) -> None:
    for actor in receivers:
        if b.h.case.part_of(actor.unit_id) is None or not b.h.case.unacknowledged(actor.unit_id):
            continue
        if b.rng.random() >= never:
            b.do(b.h.case.acknowledge, actor, b.at(b.rng.uniform(0.1, 20)))


def _form(rng: random.Random) -> PlanningForm:
    return PlanningForm(current_services=rng.choice(SERVICES), expected_needs=tuple(rng.sample(list(Need), 2)),
                        adl=rng.choice(ADL))


def _information(rng: random.Random) -> DischargeInformation:
    destination = rng.choice((Destination.HOME, Destination.HOME, Destination.HOME, Destination.SHORT_TERM_STAY,
                              Destination.SPECIAL_HOUSING))
    attached = rng.random() < 0.5
    return DischargeInformation(
        destination=destination,
        contacts=(AfterDischargeContact("Vårdavdelningen, ansvarig sjuksköterska", "08-123 000 00"),),
        handover=rng.choice(HANDOVER),
        medication_list=MedicationList.ATTACHED if attached else MedicationList.SENT_IN_RECORD,
        medication_list_text="Paracetamol 500 mg 1x3\nOmeprazol 20 mg 1x1" if attached else "")


# ----- rows -----------------------------------------------------------------------------------------------------------

PATIENT_COLUMNS = ("id", "identity_kind", "identity_value", "protected_identity", "created_at")
CASE_COLUMNS = ("id", "patient_id", "ward_unit_id", "state", "care_type", "admitted_at", "updated_at", "version",
                "document", "person_name", "person_address", "person_municipality_code", "person_listed_unit_id")
PARTICIPANT_COLUMNS = ("case_id", "unit_id", "part", "state", "is_open", "admitted_at", "at_risk_from", "overdue_from",
                       "in_inbox", "unread", "has_unread", "inbox_at", "name_key")
EVENT_COLUMNS = ("event_id", "type", "aggregate_type", "aggregate_id", "aggregate_version", "occurred_at", "payload",
                 "published_at")
ACCESS_COLUMNS = ("at", "user_id", "user_hsa_id", "unit_id", "patient_id", "case_id", "action", "purpose")


@dataclass
class Chunk:
    """The rows of CHUNK_SIZE consecutive cases, in the columns above (JSON columns as JSON text, times UTC)."""

    index: int
    patients: list[tuple[Any, ...]] = field(default_factory=list)
    cases: list[tuple[Any, ...]] = field(default_factory=list)
    participants: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    event_units: list[tuple[str, ...]] = field(default_factory=list)  # per event: the units whose feeds get it
    access: list[tuple[Any, ...]] = field(default_factory=list)  # unsealed content, in chain order


def case_indexes(plan: Plan, chunk: int) -> range:
    return range(chunk * CHUNK_SIZE, min(plan.total_cases, (chunk + 1) * CHUNK_SIZE))


def histories(plan: Plan, chunk: int) -> Iterator[History]:
    shares = Shares.of(plan)
    for index in case_indexes(plan, chunk):
        try:
            yield build_case(plan, shares, index)
        except _Later:
            continue


def notice_ids(case: DischargeCase) -> dict[str, str]:
    """The domain draws notice ids at random: the data set's are uuid5 of the case and the notice's number."""
    namespace = uuid.UUID(case.id)
    return {notice.id: str(uuid.uuid5(namespace, f"notice:{n}")) for n, notice in enumerate(case.notices)}


def document_json(case: DischargeCase, ids: dict[str, str]) -> str:
    """The case's stored document, with deterministic notice ids."""
    return _replace(msgspec.json.encode(to_document(case)).decode(), ids)


def _replace(text: str, ids: dict[str, str]) -> str:
    for old, new in ids.items():
        if old in text:
            text = text.replace(old, new)
    return text


def generate_chunk(plan: Plan, chunk: int) -> Chunk:
    """Every row of one chunk of cases (run in a worker process)."""
    out = Chunk(chunk)
    staff = {u.id: u for u in region.staff()}
    for h in histories(plan, chunk):
        case, person = h.case, h.patient
        out.patients.append((person.id, "personnummer", person.identity_value, person.protected, case.admitted_at))
        listed_unit = region.stable_id("unit", person.listed_unit_key) if person.listed_unit_key else None
        ids = notice_ids(case)
        namespace = uuid.UUID(case.id)
        out.cases.append((case.id, person.id, case.ward_unit_id, str(case.state), str(case.care_type),
                          case.admitted_at, h.updated_at, case.version, document_json(case, ids), person.name,
                          person.address,
                          person.municipality_code, listed_unit))
        # the case's query rows by the one mapping the repositories use (server/persistence/read_models.py)
        out.participants.extend(tuple(row[c] for c in PARTICIPANT_COLUMNS)
                                for row in case_rows(case, person.name, plan.policy))
        for n, (event, version) in enumerate(zip(h.events, h.versions, strict=True)):
            payload = msgspec.json.encode({"unit_ids": list(event.unit_ids), "data": event_data(event)}).decode()
            out.events.append((str(uuid.uuid5(namespace, f"event:{n}")), event.type,
                               str(AggregateType.DISCHARGE_CASE), case.id, version, event.occurred_at,
                               _replace(payload, ids) if "notice_id" in payload else payload, event.occurred_at))
            out.event_units.append(tuple(event.unit_ids))
        first = True
        for entry in case.timeline:
            user = staff[entry.user_id]
            if entry.action == "acknowledged":  # the receiver read the case before acknowledging
                out.access.append((entry.at - timedelta(minutes=2), user.id, user.hsa_id, entry.unit_id, person.id,
                                   case.id, "read_case", "care_coordination"))
            action = "register_case" if first else ACCESS_ACTION.get(entry.action, "read_case")
            out.access.append((entry.at, user.id, user.hsa_id, entry.unit_id, person.id, case.id, action,
                               "care_coordination"))
            first = False
    return out


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
