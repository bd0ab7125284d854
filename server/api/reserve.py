"""The reserve routine's printouts (*reservrutin*, docs/reservrutin.md): a unit's open cases as PDF or CSV, and one
case as a PDF page. Each is a read of patient data, access-logged per patient. Rendering runs in a worker thread:
a long list never holds up the event loop."""

from __future__ import annotations

import asyncio
from typing import Annotated

from litestar import Response, get
from litestar.params import Parameter

from server.api.cases import ActingUnitHeader, CaseId
from server.api.dependencies import Cases, Reads
from server.api.openapi import PROBLEMS
from server.exports.reserve import render_csv, render_list_pdf, render_sheet_pdf
from server.principal import CurrentUser

TAGS = ["reserve routine"]
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


_LIST_DESCRIPTION = ("The open cases of one of your units (admitted, planning, ready for discharge), each with its "
                     "next unmet deadline and who owns it, the counterpart units with their phone numbers and the "
                     "named care contact: the list to work from when Samplan is unavailable. Access-logged per "
                     "patient (`export_reserve_list`).")
UnitId = Annotated[str, Parameter(max_length=64)]


@get("/units/{unit_id:str}/reserve-list/pdf", operation_id="exportReserveListPdf",
     summary="A unit's reserve list, printable (PDF)", media_type="application/pdf", description=_LIST_DESCRIPTION,
     responses=PROBLEMS, tags=TAGS)
async def export_reserve_list_pdf(current_user: CurrentUser, queries: Reads, unit_id: UnitId) -> Response[bytes]:
    reserve = await queries.reserve.unit_list(current_user, unit_id)
    content = await asyncio.to_thread(render_list_pdf, reserve)
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": 'attachment; filename="reservlista.pdf"'})


@get("/units/{unit_id:str}/reserve-list/csv", operation_id="exportReserveListCsv",
     summary="A unit's reserve list for a spreadsheet (CSV: semicolons, UTF-8 with a byte-order mark)",
     media_type=CSV_MEDIA_TYPE, description=_LIST_DESCRIPTION, responses=PROBLEMS, tags=TAGS)
async def export_reserve_list_csv(current_user: CurrentUser, queries: Reads, unit_id: UnitId) -> Response[bytes]:
    reserve = await queries.reserve.unit_list(current_user, unit_id)
    content = await asyncio.to_thread(render_csv, reserve)
    return Response(content, media_type=CSV_MEDIA_TYPE,
                    headers={"Content-Disposition": 'attachment; filename="reservlista.csv"'})


@get("/cases/{case_id:str}/sheet", operation_id="exportCaseSheet", summary="One case as a printable page (PDF)",
     media_type="application/pdf",
     description="The case as the acting unit sees it, on a page: deadlines, units and receipts, notices, planning, "
                 "discharge and the latest events. Access-logged (`export_case_sheet`).",
     responses=PROBLEMS, tags=TAGS)
async def export_case_sheet(current_user: CurrentUser, cases: Cases, case_id: CaseId,
                            acting_unit: ActingUnitHeader = None) -> Response[bytes]:
    sheet = await cases.sheet(current_user, case_id, acting_unit)
    content = await asyncio.to_thread(render_sheet_pdf, sheet)
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": 'attachment; filename="arende.pdf"'})


RESERVE_ROUTES = [export_reserve_list_pdf, export_reserve_list_csv, export_case_sheet]
