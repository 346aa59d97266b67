"""What a run is asked to be, as plain data: it travels from web code to the supervisor."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Purpose:
    """What a run or a build is for, as the asker names it: a page and a block on it (lessons:
    a lesson's slug and the exercise's id). Kept in the record's own columns and read back from
    them; the label stays an opaque key (one live run per owner and label)."""

    page: str = ""
    block: str = ""


@dataclass(frozen=True)
class Part:
    """One container of a run."""

    name: str
    command: str
    main: bool = False


@dataclass(frozen=True)
class RunSpec:
    image: str
    command: str  # what the run shows as its command; the only part's, for a single container
    owner_id: int
    label: str
    timeout: int
    memory: str | None = None
    parts: tuple[Part, ...] = ()  # empty: one container running `command`
    one_after_another: bool = False  # run the parts in turn, not together
    volume: str = ""  # the owner's named volume mounted at /data in every part ("" for none)
    purpose: Purpose = Purpose()

    def containers(self) -> tuple[Part, ...]:
        return self.parts or (Part("main", self.command, main=True),)

    def data(self) -> dict:
        """As plain data, to travel to the supervisor."""
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict) -> RunSpec:
        parts = tuple(Part(**part) for part in data["parts"])
        # A queued press saved before purposes existed has none.
        purpose = Purpose(**data.get("purpose", {}))
        return cls(**{**data, "parts": parts, "purpose": purpose})
