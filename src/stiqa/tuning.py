"""The figure reader's weights and thresholds, in one place (not scattered constants).

Chosen on the shapes of document the readers serve (prose figure statements, table cells, slide
label lines), checked on the seed suite and the generality set together; a change here is a
change of the answer stage and is measured with ``stiqa eval`` on both sets.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tuning:
    #: share of the question's subject words (rarity-weighted) a figure's subject must hold
    min_cover: float = 0.72
    #: a subject word found only in the heading / title counts this much of one found beside the figure
    heading_weight: float = 0.75
    #: a subject word the question names that is missing beside the figure and in the heading
    #: disqualifies when its weight is at least this share of the question's subject weight
    missing_veto: float = 0.25
    #: a question word that is not a noun (a verb, an adverb) counts this much of its rarity
    verb_weight: float = 0.3
    #: per qualifier of the figure's own subject that the question does not ask for
    extra_penalty: float = 0.04
    #: a table cell whose unit is the unit asked (何百万円) gains this
    unit_bonus: float = 0.1
    #: a figure whose fiscal year is not the one asked is dropped; one with no year loses this
    no_year_penalty: float = 0.05
    #: the best candidate must lead the runner-up with a different figure by this margin, else
    #: both subjects fit equally and the reader abstains rather than pick one
    min_margin: float = 0.0


DEFAULT = Tuning()
