"""The read side: each query loads what one read shows (SQL or repository reads) and shapes it with `server/views/`.

Controllers call a query or a use case and hold no SQL; queries change nothing but the access log of a read.
"""
