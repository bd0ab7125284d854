"""Problem details become Swedish sentences for the user (`ui.api_client.problem_message`)."""

from __future__ import annotations

from ui.api_client import problem_message


def test_a_time_out_of_range_names_the_field_in_swedish() -> None:
    problem = {"code": "time_out_of_range", "detail": "the time must lie between ...",
               "errors": [{"field": "discharged_at", "message": "the time must lie between ..."}]}
    assert problem_message(400, problem) == "Tidpunkten ligger för långt bakåt eller framåt i tiden (utskrivningstid)."
    problem["errors"] = [{"field": "starts_at", "message": "..."}]
    assert problem_message(400, problem) == "Tidpunkten ligger för långt bakåt eller framåt i tiden."
