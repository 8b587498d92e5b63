"""Benchmarks of newsearch, run as modules from the repository root.

    python -m bench.run            the standard performance run against the stock Whoosh + jieba recipe
    python -m bench.serve          load test of ``newsearch serve``
    python -m bench.recall         recall and precision against a brute-force scan
    python -m bench.dupes          near-duplicate detection on planted edits
    python -m bench.baseline DIR   the stock recipe alone
    python -m bench.corpus N DIR   a seeded corpus of real paragraphs

They are not part of the installed package; ``tests/test_bench.py`` runs each
once at a tiny size.  The README's Benchmarks section has the figures.
"""
