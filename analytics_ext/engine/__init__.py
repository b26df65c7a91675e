"""The query engine: SQL in, Apache Arrow out, off the event loop (DESIGN.md §6).

``spec.SourceSpec`` is the one thing the rest of the product hands the engine: a datasource
resolved for one caller (credentials decrypted, permission already checked by the datasource
service). Nothing in this package reads the analytics store or knows about users.
"""
