"""The trace every move of the ``champion`` alias leaves on model version tags.

Pure builders: given who moves the alias, when, why and between which versions, they say
which tags to set and delete on each version. ``aliases.move_champion`` writes them.
Reading the tags of the versions in order answers "who was champion when, set by whom,
and why", and ``previous_champion`` chains each champion to the one it replaced, which is
what a rollback follows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

# On the version that becomes champion.
CHAMPION_SINCE = "champion_since"
CHAMPION_SET_BY = "champion_set_by"
CHAMPION_REASON = "champion_reason"
PREVIOUS_CHAMPION = "previous_champion"
# On the version that stops being champion.
CHAMPION_UNTIL = "champion_until"
CHAMPION_REPLACED_BY = "champion_replaced_by"
# On the version a rollback demoted.
ROLLED_BACK_AT = "rolled_back_at"
ROLLED_BACK_BY = "rolled_back_by"
ROLLBACK_REASON = "rollback_reason"

NO_PREVIOUS = "none"
# Left over from an earlier reign of a version that becomes champion again.
_ENDED_REIGN = (CHAMPION_UNTIL, CHAMPION_REPLACED_BY)


@dataclass(frozen=True)
class ChampionMove:
    """One move of the ``champion`` alias to ``new_champion`` and the tags that record it."""

    new_champion: str
    set_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    delete_tags: dict[str, tuple[str, ...]] = field(default_factory=dict)


def timestamp(at: dt.datetime) -> str:
    """ISO 8601 in UTC, to the second, e.g. ``2016-01-22T06:00:00+00:00``."""
    return at.astimezone(dt.UTC).isoformat(timespec="seconds")


def promotion(
    new_champion: str, replaced: str | None, at: dt.datetime, by: str, reason: str
) -> ChampionMove:
    """Make ``new_champion`` the champion in place of ``replaced`` (None: there was none)."""
    when = timestamp(at)
    set_tags = {
        new_champion: {
            CHAMPION_SINCE: when,
            CHAMPION_SET_BY: by,
            CHAMPION_REASON: reason,
            PREVIOUS_CHAMPION: replaced or NO_PREVIOUS,
        }
    }
    if replaced is not None:
        set_tags[replaced] = {CHAMPION_UNTIL: when, CHAMPION_REPLACED_BY: new_champion}
    return ChampionMove(new_champion, set_tags, {new_champion: _ENDED_REIGN})


def rollback(demoted: str, restored: str, at: dt.datetime, by: str, reason: str) -> ChampionMove:
    """Give the alias back to ``restored`` (the ``previous_champion`` of ``demoted``).

    ``restored`` keeps its own ``previous_champion``, so a second rollback goes one
    further back instead of bouncing between two versions.
    """
    when = timestamp(at)
    return ChampionMove(
        restored,
        {
            restored: {
                CHAMPION_SINCE: when,
                CHAMPION_SET_BY: by,
                CHAMPION_REASON: f"rollback: {reason}",
            },
            demoted: {
                ROLLED_BACK_AT: when,
                ROLLED_BACK_BY: by,
                ROLLBACK_REASON: reason,
                CHAMPION_UNTIL: when,
                CHAMPION_REPLACED_BY: restored,
            },
        },
        {restored: _ENDED_REIGN},
    )
