"""One module per page: board (utskrivningstavla), inbox (inkorg), case (ärendevy), home (start)."""
