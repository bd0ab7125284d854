"""`samplan seed`: the demo world — the Stockholm tree, demo users and invented patients in every state.

Ids are derived from stable keys (uuid5), so a demo user's token and links stay valid across re-seeding.
Patients are invented: names drawn from common first and last names, identity numbers generated with
valid check digits and serial numbers 980-999, never taken from a register.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.discharge_case import Actor, CaseState, DischargeCase, InterruptionReason, Part
from domain.discharge_notice import AfterDischargeContact, Destination, DischargeInformation, MedicationList
from domain.identity import generate_test_personnummer
from domain.organisation import Role, UnitKind
from domain.planning import HomeReadiness, Need, PlanningForm
from realtime.envelope import AggregateType
from realtime.feeds import unit_feed
from server import access_log
from server.demo import world
from server.persistence import event_log
from server.persistence.models import (
    AssignmentRow,
    FeedRow,
    OrganisationRow,
    PatientRow,
    PaymentAmountRow,
    PersonDetails,
    PrincipalRow,
    UnitRow,
    UserRow,
)
from server.persistence.repositories import CaseRepository

NAMESPACE = uuid.UUID("7f1d7c52-9a53-4c0e-9f39-5a4c1f0b6d21")
MAIN_WARD = "ks-solna-ward-geriatrik-1"
# Socialstyrelsen's published amounts per day of care (process.md section 4); other years: entered by an admin.
PUBLISHED_AMOUNTS = {2019: 7800, 2020: 8200, 2022: 9300}


def stable_id(kind: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    title: str
    organisation_key: str
    assignments: tuple[tuple[str, Role], ...]
    # Units (keys) where the user's assignment carries the explicit need to see protected identities.
    protected_identity_units: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return stable_id("user", self.username)

    @property
    def hsa_id(self) -> str:
        return f"SE2321000016-DEMO{self.username.replace('.', '').upper()[:12]}"


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("ward.nurse", "Sara Sjöberg", "Sjuksköterska", "karolinska", ((MAIN_WARD, Role.USER),)),
    DemoUser("ward.coordinator", "Per Lindqvist", "Vårdkoordinator", "karolinska",
             ((MAIN_WARD, Role.USER), ("ks-solna-ward-ortoped-3", Role.USER))),
    DemoUser("psych.nurse", "Lena Holm", "Sjuksköterska psykiatri", "karolinska",
             (("ks-huddinge-ward-psykiatri-2", Role.USER),)),
    DemoUser("needs.assessor", "Karin Berg", "Biståndshandläggare", "solna-stad", (("solna-stad-intake", Role.USER),)),
    DemoUser("municipal.nurse", "Johan Ek", "Sjuksköterska hemsjukvård", "solna-stad",
             (("solna-stad-hemsjukvard", Role.USER),),
             protected_identity_units=("solna-stad-hemsjukvard",)),  # visits people at home: needs the address
    DemoUser("care.contact", "Maria Nyström", "Distriktssköterska, fast vårdkontakt", "aleris",
             (("aleris-vc-ronnviken", Role.USER),)),
    DemoUser("stockholm.assessor", "Ali Hassan", "Biståndshandläggare", "stockholms-stad",
             (("stockholms-stad-intake-sodermalm", Role.USER),)),
    DemoUser("hospital.admin", "Eva Lund", "Lokal behörighetsadministratör", "karolinska",
             ((MAIN_WARD, Role.LOCAL_ACCESS_ADMINISTRATOR),)),
    DemoUser("municipal.admin", "Nils Åberg", "Lokal behörighetsadministratör", "solna-stad",
             (("solna-stad-intake", Role.LOCAL_ACCESS_ADMINISTRATOR),)),
    DemoUser("central.admin", "Ingrid Falk", "Central förvaltning", "slso",
             (("slso-vc-vitsippsdalen", Role.CENTRAL_ADMINISTRATOR),)),
    DemoUser("auditor", "Oskar Wik", "Logggranskare", "karolinska", ((MAIN_WARD, Role.AUDITOR),)),
    DemoUser("statistics", "Helena Strand", "Verksamhetsutvecklare", "solna-stad",
             (("solna-stad-intake", Role.STATISTICS_READER),)),
)

FIRST_NAMES = ("Anna", "Eva", "Maria", "Karin", "Kerstin", "Ingrid", "Birgitta", "Margareta", "Elisabeth", "Gunnel",
               "Lars", "Karl", "Erik", "Anders", "Per", "Nils", "Sven", "Bengt", "Gunnar", "Olof", "Göran", "Rolf")
LAST_NAMES = ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
              "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson", "Bengtsson", "Lindberg")
STREETS = ("Exempelvägen", "Provgatan", "Testgränd", "Demostigen", "Påhittade allén", "Fiktiva torget")


async def seed(session: AsyncSession, *, now: datetime, cases_on_main_ward: int = 60, with_cases: bool = True,
               rng_seed: int = 20261125) -> bool:
    """Create the demo world in an empty database. Returns False (and does nothing) if it is already there."""
    if await session.scalar(select(func.count()).select_from(UnitRow)):
        return False
    await _seed_tree(session)
    await _seed_users(session)
    for year, amount in PUBLISHED_AMOUNTS.items():
        await session.execute(insert(PaymentAmountRow).values(
            year=year, amount_sek=amount, entered_by_user_id=stable_id("user", "central.admin"), entered_at=now))
    if with_cases:
        await _seed_cases(session, now, cases_on_main_ward, random.Random(rng_seed))
    return True


async def _seed_tree(session: AsyncSession) -> None:
    for p in world.PRINCIPALS:
        await session.execute(insert(PrincipalRow).values(id=stable_id("principal", p.key), name=p.name, kind=p.kind,
                                                          municipality_code=p.municipality_code))
    for org in world.ORGANISATIONS:
        await session.execute(insert(OrganisationRow).values(
            id=stable_id("organisation", org.key), principal_id=stable_id("principal", org.principal_key),
            name=org.name, kind=org.kind, has_local_administration=org.has_local_administration,
            care_agreement=True, active=True))
        for unit in org.units:
            unit_id = stable_id("unit", unit.key)
            intake = "intake" if "-intake" in unit.key else None
            await session.execute(insert(UnitRow).values(
                id=unit_id, organisation_id=stable_id("organisation", org.key), name=unit.name, kind=unit.kind,
                hsa_id=unit.hsa_id, municipality_code=unit.municipality_code, district=unit.district,
                routing_role=intake, active=True, phone=unit.phone))
            await session.execute(insert(FeedRow).values(feed=unit_feed(unit_id), last_position=0))


async def _seed_users(session: AsyncSession) -> None:
    for user in DEMO_USERS:
        await session.execute(insert(UserRow).values(
            id=user.id, username=user.username, hsa_id=user.hsa_id, display_name=user.display_name, title=user.title,
            organisation_id=stable_id("organisation", user.organisation_key), active=True))
        for unit_key, role in user.assignments:
            await session.execute(insert(AssignmentRow).values(
                user_id=user.id, unit_id=stable_id("unit", unit_key), role=str(role),
                protected_identity_access=unit_key in user.protected_identity_units))


# ----- cases -----------------------------------------------------------------------------------------------------

PLAN = (  # (state, how many of every 60 on the main ward)
    (CaseState.ADMITTED, 6), (CaseState.PLANNING, 20), (CaseState.READY, 14), (CaseState.DISCHARGED, 8),
    (CaseState.CLOSED, 5), (CaseState.INTERRUPTED, 4), (CaseState.CANCELLED, 3),
)
SOLNA = "0184"
OTHER_MUNICIPALITIES = ("0180", "0183", "0162", "0163", "0186")


async def _seed_cases(session: AsyncSession, now: datetime, count: int, rng: random.Random) -> None:
    states = [state for state, n in PLAN for _ in range(n)]
    plan = [states[i % len(states)] for i in range(count)]
    other_wards = [("ks-huddinge-ward-psykiatri-2", CaseState.PLANNING), ("ks-huddinge-ward-psykiatri-2",
                   CaseState.READY), ("sos-ward-akutgeriatrik-54", CaseState.READY),
                   ("sos-ward-akutgeriatrik-54", CaseState.PLANNING), ("ks-solna-ward-ortoped-3", CaseState.READY),
                   ("ks-solna-ward-ortoped-3", CaseState.ADMITTED), ("stg-ward-geriatrik-61", CaseState.DISCHARGED)]
    for index, (ward_key, state) in enumerate([(MAIN_WARD, s) for s in plan] + other_wards):
        serial = 980 + index % 20
        municipality = SOLNA if rng.random() < 0.7 else rng.choice(OTHER_MUNICIPALITIES)
        patient, person = _patient(rng, municipality, serial, index, now)
        session.add(patient)
        await session.flush()
        case = _build_case(rng, now, ward_key, patient, person, state)
        repo = CaseRepository(session)
        await repo.add(case, patient.id, person, now)
        await event_log.append(session, case.pending_events, case.version, AggregateType.DISCHARGE_CASE)
        case.pending_events.clear()
        await access_log.append(session, _demo_accesses(case, patient.id))


# The access log names a change by its command (`access_log.action_of`), the timeline by what happened: the demo's
# log rows use the command's name, as the API writes them (domain/audit_terms.py has the Swedish of each).
ACCESS_ACTION_OF_TIMELINE = {
    "registered": "register_case", "admission_notice_sent": "send_admission_notice",
    "needs_identified": "record_needs_identified", "acknowledged": "acknowledge", "forwarded": "forward",
    "rejected": "reject", "participant_added": "add_participant", "participant_removed": "remove_participant",
    "named_care_contact_appointed": "appoint_named_care_contact",
    "estimated_discharge_changed": "change_estimated_discharge", "planning_updated": "update_planning",
    "ready_for_discharge": "mark_ready_for_discharge", "ready_for_discharge_withdrawn": "withdraw_ready_for_discharge",
    "sip_applies": "set_sip_applies", "sip_not_applies": "set_sip_applies",
    "sip_invitation_sent": "send_sip_invitation",
    "liability_facts_changed": "set_liability_facts", "home_readiness_updated": "update_home_readiness",
    "leave_started": "start_leave", "leave_ended": "end_leave", "discharge_notice_sent": "send_discharge_notice",
    "interrupted": "interrupt", "cancelled": "cancel", "closed": "close",
}


def _demo_accesses(case: DischargeCase, patient_id: str) -> list[dict[str, object]]:
    """The access log of a demo case: who registered, read and acted on it (for the auditors' log review)."""
    by_id = {u.id: u for u in DEMO_USERS}
    rows: list[dict[str, object]] = []
    for entry in case.timeline:
        user = by_id.get(entry.user_id)
        if user is None:
            continue
        action = "register_case" if not rows else ACCESS_ACTION_OF_TIMELINE.get(entry.action, "read_case")
        rows.append({"at": entry.at, "user_id": user.id, "user_hsa_id": user.hsa_id, "unit_id": entry.unit_id,
                     "patient_id": patient_id, "case_id": case.id, "action": action[:60],
                     "purpose": "care_coordination"})
    return rows


def _patient(rng: random.Random, municipality: str, serial: int, index: int,
             now: datetime) -> tuple[PatientRow, PersonDetails]:
    """The shared identity, and the details the demo case keeps of the person."""
    birth = date(1930, 1, 1) + timedelta(days=rng.randrange(0, 365 * 35))
    identity = generate_test_personnummer(birth, serial)
    listing = _listing_unit(municipality, rng)
    person = PersonDetails(name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                           address=f"{rng.choice(STREETS)} {rng.randrange(1, 80)}", municipality_code=municipality,
                           listed_unit_id=stable_id("unit", listing.key) if listing else None)
    return PatientRow(id=stable_id("patient", str(index)), identity_kind=str(identity.kind),
                      identity_value=identity.value, protected_identity=index % 23 == 7, created_at=now), person


def _listing_unit(municipality: str, rng: random.Random) -> world.DemoUnit | None:
    if municipality == SOLNA:
        return world.unit_by_key("aleris-vc-ronnviken" if rng.random() < 0.6 else "slso-vc-vitsippsdalen")
    units = [u for _, u in world.all_units() if u.kind == "primary_care" and u.municipality_code == municipality]
    return rng.choice(units) if units else None


def _build_case(rng: random.Random, now: datetime, ward_key: str, patient: PatientRow, person: PersonDetails,
                target: CaseState) -> DischargeCase:
    ward_id = stable_id("unit", ward_key)
    nurse = Actor(stable_id("user", "ward.nurse"), ward_id)
    ward_kind = UnitKind(world.unit_by_key(ward_key).kind)
    intake = world.municipal_intake_unit(person.municipality_code)
    receiving: list[tuple[str, Part]] = [(stable_id("unit", intake.key), Part.MUNICIPAL)]
    if person.listed_unit_id:
        receiving.append((person.listed_unit_id, Part.PRIMARY_CARE))
    if target is CaseState.ADMITTED:
        admitted = now - timedelta(hours=rng.choice((2, 12, 19, 21, 26, 30)))
    else:
        admitted = now - timedelta(days=rng.randrange(3, 14), hours=rng.randrange(0, 23))
    t = admitted
    case = DischargeCase.register(patient_id=patient.id, care_type=ward_kind.care_type, admitted_at=admitted,
                                  actor=nurse, receiving=receiving, now=admitted + timedelta(minutes=20),
                                  estimated_discharge_at=admitted + timedelta(days=rng.randrange(4, 12)),
                                  case_id=stable_id("case", f"{ward_key}:{patient.id}"))
    if target is CaseState.ADMITTED:
        return case

    def step(hours: float) -> datetime:
        nonlocal t
        t = min(t + timedelta(hours=hours), now - timedelta(minutes=5))
        return t

    case.send_admission_notice(nurse, step(rng.choice((3, 10, 20, 30))))
    receivers = [Actor(stable_id("user", "needs.assessor"), u) if p is Part.MUNICIPAL else
                 Actor(stable_id("user", "care.contact"), u) for u, p in receiving]
    for actor in receivers:
        if rng.random() < 0.8:
            case.acknowledge(actor, step(rng.uniform(0.5, 6)))
    if target is CaseState.CANCELLED:
        case.cancel(nurse, step(2))
        return case
    primary = next((a for a, (_, p) in zip(receivers, receiving, strict=True) if p is Part.PRIMARY_CARE), None)
    if primary and rng.random() < 0.6:
        case.appoint_named_care_contact(primary, stable_id("user", "care.contact"), step(8))
    municipal = receivers[0]
    case.update_planning(municipal, PlanningForm(
        current_services=rng.choice(("Hemtjänst 2 ggr/dag", "Inga insatser", "Trygghetslarm")),
        expected_needs=tuple(rng.sample(list(Need), 2)), adl="Behöver stöd vid förflyttning"), step(10))
    if target is CaseState.PLANNING:
        return case
    if target is CaseState.INTERRUPTED:
        case.interrupt(nurse, rng.choice(list(InterruptionReason)), step(24))
        return case
    if rng.random() < 0.2:
        case.mark_ready_for_discharge(nurse, step(24))
        case.withdraw_ready_for_discharge(nurse, step(12))
    case.set_sip_applies(nurse, rng.random() < 0.4, step(1))
    case.mark_ready_for_discharge(nurse, step(rng.uniform(12, 60)))
    if case.sip_applies and primary and rng.random() < 0.7:
        case.send_sip_invitation(primary, step(rng.uniform(10, 80)))
    for actor in receivers:
        case.acknowledge(actor, step(1))
    if target is CaseState.READY:
        if rng.random() < 0.3:
            case.update_home_readiness(nurse, HomeReadiness(medicines_secured=True, aids_in_place=rng.random() < .5),
                                       step(2))
        return case
    case.send_discharge_notice(nurse, step(rng.uniform(2, 72)), t, information=_discharge_information(rng))
    if target is CaseState.CLOSED:
        case.close(nurse, step(24))
    return case


def _discharge_information(rng: random.Random) -> DischargeInformation:
    """An invented discharge notice's content (no real person or place)."""
    destination = rng.choice((Destination.HOME, Destination.HOME, Destination.SHORT_TERM_STAY,
                              Destination.SPECIAL_HOUSING))
    attached = rng.random() < 0.5
    return DischargeInformation(
        destination=destination,
        contacts=(AfterDischargeContact("Vårdavdelningen, ansvarig sjuksköterska", "08-123 000 00"),),
        handover=rng.choice(("Går med rollator. Behöver tillsyn nattetid.", "Sårvård varannan dag enligt ordination.",
                             "Mår bra. Uppföljning på vårdcentralen om två veckor.")),
        medication_list=MedicationList.ATTACHED if attached else MedicationList.SENT_IN_RECORD,
        medication_list_text="Paracetamol 500 mg 1x3\nOmeprazol 20 mg 1x1" if attached else "")
