"""`python -m ui`: the UI process. `samplan ui` and `samplan dev` start it this way (the server never imports `ui`)."""

from ui.app import run

run()
