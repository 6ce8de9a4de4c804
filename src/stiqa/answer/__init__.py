"""The answer stage: readers offer candidate answers, a fitted model chooses one or abstains.

``Answerer`` (answerer.py) runs the readers over one question's hits; ``options`` turns what they
found into ``Option``s; ``features`` describes each option against the question; ``model`` scores
them with the committed model file and decides whether to answer at all (``stiqa.evaluate.train``
refits it); ``lines``, ``money``, ``claims`` and ``relevance`` are the readers' mixins.
"""
from stiqa.records import ABSTAIN_TEXT
from stiqa.answer.answerer import AliasLookup, Answerer

__all__ = ["ABSTAIN_TEXT", "AliasLookup", "Answerer"]
