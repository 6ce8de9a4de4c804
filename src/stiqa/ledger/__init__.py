"""The figure ledger: every figure the readers find, as a cited record, rebuilt with the index.

``records`` (what a record is), ``build`` (records from chunks), ``store`` (figures.json in each
index generation), ``changes`` (what a new or changed document changes), ``query`` (filters and
their messages), ``command`` (`stiqa figures`). Nothing is imported here, so `stiqa figures` loads
only what it uses.
"""
