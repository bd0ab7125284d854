"""One user's live stream is shared by all their browsers: a sign-out in one must not leave the others' stream on
the revoked token (it was refused on every reconnect until another page happened to refresh its token)."""

from __future__ import annotations

from ui.api_client import ApiClient
from ui.live import LiveHub, UserLive

NOWHERE = "http://127.0.0.1:9"


async def test_a_sign_out_moves_the_shared_stream_to_another_browsers_token() -> None:
    hub = LiveHub(ApiClient(NOWHERE), NOWHERE)
    live = UserLive(hub, "ward.nurse", "second-browser", {"capabilities": {}})
    live.token = "first-browser"  # the first browser's page was the last to hand its token over
    hub.users["ward.nurse"] = live

    await hub.token_revoked("first-browser")  # the first browser signed out; the API refuses its token from now on
    assert live.token == "second-browser"

    await hub.token_revoked("unknown")  # somebody else's sign-out changes nothing here
    assert live.token == "second-browser"


async def test_the_users_live_state_ends_with_their_last_token() -> None:
    hub = LiveHub(ApiClient(NOWHERE), NOWHERE)
    live = UserLive(hub, "ward.nurse", "only", {"capabilities": {}})
    hub.users["ward.nurse"] = live
    await hub.token_revoked("only")  # no browser of the user is left signed in: a new sign-in starts afresh
    assert "ward.nurse" not in hub.users


def test_a_refreshed_token_becomes_the_newest_and_old_ones_are_bounded() -> None:
    live = UserLive(LiveHub(ApiClient(NOWHERE), NOWHERE), "ward.nurse", "t0", {"capabilities": {}})
    for i in range(1, 50):
        live.token = f"t{i}"
    assert live.token == "t49"
    live.token = "t45"  # a browser handed an older token again: it is the newest seen now
    assert live.token == "t45"
    assert len(live._tokens) <= 20
