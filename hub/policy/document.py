"""A community's alarm rules, ticket categories and escalation chains: one validated document.

The document is data (JSON), stored per community and edited through the API;
nothing here needs a code change to retune. Validation happens on the way in,
so the hub only ever runs documents that make sense:

* every event kind a rule watches is in the vocabulary (device_adapters.kinds);
* every ticket category a rule names exists, and every escalation chain a
  category names exists;
* rule ids are unique, and an event kind has at most one plain ``event`` rule;
* a title template names only its rule type's fields, with no format spec,
  conversion or attribute access and balanced braces (hub.policy.titles); labels
  and names are single lines of plain text;
* a rule's title and a category's label are one text for every language or one per
  language (``{"zh-CN": "...", "en": "..."}``): each language's is checked as above
  and a language the hub does not speak is refused, naming the field.

Checks added later must not stop a community whose stored document predates
them: :func:`hub.policy.service.rules_for` validates with ``context={STORED: True}``,
which skips the checks marked so below (the engine copes with what they refuse).

Rule types:

``event``      an event of ``kind`` opens an alert (at once); ``clears_on`` lists
               the device's recovery reports that clear it by themselves.
``threshold``  a reading of ``field`` in ``kind`` events beyond ``above``/``below``
               for ``for_minutes`` (a heart rate that stays high); clears when a
               reading is back in range.
``count``      ``count`` events of ``kind`` from one device within ``within_minutes``
               (invalid cards at a gate, failed unlocks).
``held``       a state held too long: ``kind`` (door opened, wristband taken off)
               not followed by one of ``until`` within ``minutes``; clears on ``until``.
``offline``    a device of ``family`` unreachable for ``minutes``; clears when back.
``welfare``    an elderly resident living alone with no sign of life (a door pass
               of theirs, their lock opened, their wristband's steps rising) for
               ``hours``; clears at the next sign of life.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from device_adapters.kinds import KINDS
from device_adapters.model import DeviceFamily, Severity
from hub.i18n.locales import DEFAULT, SUPPORTED
from hub.policy import titles

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
AlertKind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_.]{0,47}$")]
Scalar = str | int | float | bool
# What a person reads: one text for every language, or one per language
# ({"zh-CN": "一键求助：{who}，{where}", "en": "SOS: {who} at {where}"}).
Localized = str | dict[str, str]
# Validation context key: the document is read back from the store, not being saved.
STORED = "stored"
_LABEL_MAX = 60
_VALUE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _saving(info: ValidationInfo) -> bool:
    """Whether the checks added after documents were first stored apply (see above)."""
    context: Any = info.context
    return not (isinstance(context, dict) and context.get(STORED))


def text_in(text: Localized, language: str) -> str:
    """``text`` as a reader of ``language`` reads it: their language's, else the
    default language's (Simplified Chinese), else the first one written."""
    if isinstance(text, str):
        return text
    return text.get(language) or text.get(DEFAULT) or next(iter(text.values()), "")


def _each_language(
    text: Localized, where: str, check: Callable[[str], str | None], *, limit: int
) -> None:
    """Every language's text of ``text`` checked; ValueError naming ``where`` and the
    language. A dict's keys must be supported languages."""
    if isinstance(text, str):
        pieces: list[tuple[str | None, str]] = [(None, text)]
    else:
        if not text:
            raise ValueError(
                f"{where}: no text in any language; write a text or {{language: text}}"
            )
        unknown = [key for key in text if key not in SUPPORTED]
        if unknown:
            raise ValueError(
                f"{where}: unknown language {unknown[0]!r}; use one of {', '.join(SUPPORTED)}"
            )
        pieces = [(language, piece) for language, piece in text.items()]
    for language, piece in pieces:
        at = f"{where} ({language})" if language is not None else where
        if len(piece) > limit:
            raise ValueError(f"{at}: longer than {limit} characters")
        problem = check(piece)
        if problem is not None:
            raise ValueError(f"{at}: {problem}")


def _plain_text(text: str, info: ValidationInfo) -> str:
    problem = titles.text_problem(text) if _saving(info) else None
    if problem is not None:
        raise ValueError(f"{info.field_name}: {problem}")
    return text


def _plain_localized(text: Localized, info: ValidationInfo) -> Localized:
    if _saving(info):
        _each_language(text, str(info.field_name), titles.text_problem, limit=_LABEL_MAX)
    return text


class Target(StrEnum):
    """Who a step of an escalation chain, or a rule's fan-out, reaches."""

    PRIMARY = "primary"  # the volunteer on duty in the grid (the ticket is assigned to them)
    BACKUP = "backup"  # the backup volunteer on duty (the ticket is reassigned to them)
    GRID_WORKER = "grid_worker"  # the grid worker on duty
    ON_DUTY = "on_duty"  # everyone on duty in the grid: primary, backup and grid worker
    COMMUNITY_STAFF = "community_staff"
    PROPERTY_MANAGER = "property_manager"
    FAMILY = "family"  # the resident's family contacts (phone: SMS/messaging plugins)
    POLICE = "police"  # the community's police contact, where configured


# Targets that take the ticket over (the first on duty is assigned), not just hear of it.
ASSIGNING_TARGETS = frozenset({Target.PRIMARY, Target.BACKUP})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Strict):
    """An event of ``kind`` whose values include ``values`` (a list: any of those;
    ``null`` in a list: the value may be absent)."""

    kind: str
    values: dict[str, Scalar | list[Scalar | None]] = Field(default_factory=dict)

    def matches(self, kind: str, values: Mapping[str, object]) -> bool:
        if kind != self.kind:
            return False
        for key, wanted in self.values.items():
            have = values.get(key)
            if isinstance(wanted, list):
                if have not in wanted:
                    return False
            elif have != wanted:
                return False
        return True


class _Rule(_Strict):
    id: Slug
    enabled: bool = True
    severity: Severity | None = Field(
        None, description="the alert's severity; default: the event kind's"
    )
    ticket_category: Slug | None = Field(
        None, description="open a ticket of this category; none: an alert only"
    )
    notify: list[Target] = Field(
        default_factory=list,
        description="told at once, besides the ticket's assignee (fire: PM and all on duty)",
    )
    title: Localized = Field(
        default_factory=lambda: dict(titles.DEFAULT_TITLES),
        description=(
            'a template, or one per language ({"zh-CN": ..., "en": ...}); '
            "the fields it may use are in docs/alarms.md"
        ),
    )

    @classmethod
    def rule_type(cls) -> str:
        """The ``type`` tag of this class of rule ("event", "threshold", ...)."""
        tag: str = get_args(cls.model_fields["type"].annotation)[0]
        return tag

    @field_validator("title")
    @classmethod
    def _title(cls, title: Localized, info: ValidationInfo) -> Localized:
        allowed = titles.fields_for(cls.rule_type())
        where = f"rule {info.data.get('id', '?')!r}: title"
        if _saving(info):
            _each_language(
                title, where, lambda text: titles.check(text, allowed), limit=titles.TITLE_MAX
            )
        elif not isinstance(title, str) and not title:
            raise ValueError(f"{where}: no text in any language")
        return title

    def title_in(self, language: str) -> str:
        return text_in(self.title, language)


class EventRule(_Rule):
    type: Literal["event"]
    kind: str
    clears_on: list[Match] = Field(default_factory=list)


class ThresholdRule(_Rule):
    type: Literal["threshold"]
    kind: str
    field: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    above: float | None = None
    below: float | None = None
    for_minutes: int = Field(ge=0, le=1440)
    alert_kind: AlertKind

    @field_validator("field")
    @classmethod
    def _value_key(cls, field: str, info: ValidationInfo) -> str:
        if _saving(info) and not _VALUE_KEY.match(field):
            raise ValueError(
                f"rule {info.data.get('id', '?')!r}: field: {field!r} is no event value name "
                "(letters, digits and _, not starting with a digit)"
            )
        return field

    def beyond(self, value: float) -> bool:
        return (self.above is not None and value > self.above) or (
            self.below is not None and value < self.below
        )


class CountRule(_Rule):
    type: Literal["count"]
    kind: str
    count: int = Field(ge=2, le=1000)
    within_minutes: int = Field(ge=1, le=1440)
    alert_kind: AlertKind


class HeldRule(_Rule):
    type: Literal["held"]
    kind: str
    values: dict[str, Scalar | list[Scalar | None]] = Field(default_factory=dict)
    until: list[Match] = Field(min_length=1)
    minutes: int = Field(ge=1, le=10080)
    alert_kind: AlertKind

    @property
    def start(self) -> Match:
        # The fields are this rule's, validated already; validating them again per
        # event and rule was a cost on the ingest path.
        return Match.model_construct(kind=self.kind, values=self.values)


class OfflineRule(_Rule):
    type: Literal["offline"]
    family: DeviceFamily
    minutes: int = Field(ge=1, le=10080)
    alert_kind: AlertKind = "device.offline"


class WelfareRule(_Rule):
    type: Literal["welfare"]
    hours: float = Field(gt=0, le=168)
    alert_kind: AlertKind = "welfare.no_sign_of_life"


Rule = Annotated[
    EventRule | ThresholdRule | CountRule | HeldRule | OfflineRule | WelfareRule,
    Field(discriminator="type"),
]


class Handler(StrEnum):
    VOLUNTEER = "volunteer"  # dispatched to the volunteer on duty (or by its escalation chain)
    STAFF = "staff"  # registered for community staff / the property to dispatch


class Category(_Strict):
    """Time limits, points and routing of one kind of ticket."""

    label: Localized = Field(description='a text, or one per language ({"zh-CN": ..., "en": ...})')
    response_minutes: int = Field(ge=1, le=10080, description="to accept it")
    resolve_minutes: int = Field(ge=1, le=43200, description="to resolve it")
    remind_before_minutes: int = Field(0, ge=0, le=1440, description="0: no reminders")
    points: int = Field(0, ge=0, le=1000, description="to the assignee on verified closure")
    co_handler_points: int = Field(0, ge=0, le=1000)
    handled_by: Handler = Handler.VOLUNTEER
    escalation: Slug | None = None
    confidential: bool = False

    _label = field_validator("label")(_plain_localized)

    def label_in(self, language: str) -> str:
        return text_in(self.label, language)

    @model_validator(mode="after")
    def _limits(self) -> Self:
        if self.resolve_minutes < self.response_minutes:
            raise ValueError("resolve_minutes must not be shorter than response_minutes")
        if self.remind_before_minutes >= self.response_minutes:
            raise ValueError("remind_before_minutes must be shorter than response_minutes")
        return self


class EscalationStep(_Strict):
    notify: Target
    ack_timeout_s: int = Field(ge=5, le=86400, description="wait this long for an acceptance")
    repeats: int = Field(0, ge=0, le=10, description="notify again this often within the wait")


class Contact(_Strict):
    name: str = Field(min_length=1, max_length=100)
    phone: str = Field(pattern=r"^\+?[0-9 -]{3,32}$")

    _name = field_validator("name")(_plain_text)


def _kinds_of(rule: Rule) -> set[str]:
    """The event kinds a rule reacts to."""
    kinds = {m.kind for m in getattr(rule, "clears_on", [])}
    if isinstance(rule, HeldRule):
        kinds |= {m.kind for m in rule.until}
    if isinstance(rule, EventRule | ThresholdRule | CountRule | HeldRule):
        kinds.add(rule.kind)
    return kinds


class FalseAlarmWatch(_Strict):
    """A device whose alarms keep turning out false is flagged to staff: ``count`` alarms
    of ``kinds`` resolved as a false alarm or pressed by mistake within ``within_days``
    (counted by when the alarms were raised) open one alert of ``alert_kind``."""

    enabled: bool = True
    kinds: list[AlertKind] = Field(default_factory=lambda: ["wristband.fall"], min_length=1)
    count: int = Field(3, ge=2, le=100)
    within_days: int = Field(7, ge=1, le=90)
    alert_kind: AlertKind = "device.false_alarms_repeated"


class RulesDocument(_Strict):
    """Everything a community can tune about alarms, tickets and escalation."""

    rules: list[Rule]
    categories: dict[Slug, Category]
    escalation_chains: dict[Slug, list[EscalationStep]] = Field(default_factory=dict)
    police_contact: Contact | None = None
    points_for_rating: dict[str, int] = Field(
        default_factory=lambda: {"5": 3, "4": 1},
        description="bonus points to the assignee by the resident's score (1-5)",
    )
    false_alarms: FalseAlarmWatch = Field(
        default_factory=FalseAlarmWatch,
        description="when a device's false alarms are flagged to staff",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[str] = []
        ids = [r.id for r in self.rules]
        for dup in sorted({i for i in ids if ids.count(i) > 1}):
            problems.append(f"rule id {dup!r} is used more than once")
        event_kinds: list[str] = []
        for rule in self.rules:
            for kind in sorted(_kinds_of(rule)):
                if kind not in KINDS:
                    problems.append(f"rule {rule.id!r}: unknown event kind {kind!r}")
            if isinstance(rule, EventRule):
                if rule.kind in event_kinds:
                    problems.append(f"rule {rule.id!r}: a second event rule for {rule.kind!r}")
                event_kinds.append(rule.kind)
            if isinstance(rule, ThresholdRule) and rule.above is None and rule.below is None:
                problems.append(f"rule {rule.id!r}: a threshold needs above, below or both")
            if rule.ticket_category is not None and rule.ticket_category not in self.categories:
                problems.append(
                    f"rule {rule.id!r}: unknown ticket category {rule.ticket_category!r}"
                )
            if Target.POLICE in rule.notify and self.police_contact is None:
                problems.append(
                    f"rule {rule.id!r} notifies the police but no police_contact is set"
                )
        for name, category in self.categories.items():
            if (
                category.escalation is not None
                and category.escalation not in self.escalation_chains
            ):
                problems.append(
                    f"category {name!r}: unknown escalation chain {category.escalation!r}"
                )
        for name, chain in self.escalation_chains.items():
            if not chain:
                problems.append(f"escalation chain {name!r} has no steps")
            if any(s.notify is Target.POLICE for s in chain) and self.police_contact is None:
                problems.append(f"escalation chain {name!r} calls the police but none is set")
        for kind in self.false_alarms.kinds:
            if kind not in KINDS:
                problems.append(f"false_alarms: unknown event kind {kind!r}")
        for score in self.points_for_rating:
            if score not in {"1", "2", "3", "4", "5"}:
                problems.append(f"points_for_rating: {score!r} is not a score from 1 to 5")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def category(self, name: str) -> Category | None:
        return self.categories.get(name)

    def active(self) -> list[Rule]:
        return [r for r in self.rules if r.enabled]

    def concerning(self, kind: str) -> tuple[Rule, ...]:
        """The active rules an event of ``kind`` can start, raise, count or clear, in order.

        Every rule's interest in an event begins with its kind (its own, or a
        ``clears_on``/``until`` kind), so the ingest looks at these only: most
        telemetry kinds concern no rule at all.
        """
        return tuple(r for r in self.active() if kind in _kinds_of(r))

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)
