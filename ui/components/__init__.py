"""Components for pieces that recur on several pages."""
