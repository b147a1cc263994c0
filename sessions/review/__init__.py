"""Review: dashboards, site calendar, monitor swimlanes and adherence, audit search, exports and feeds.

Read-only pages over the daily work. Every query is scoped through sessions.access; each page
asks the database a fixed number of times however many participants a site has.
"""
