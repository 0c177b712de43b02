"""The ticket workflow table: what it allows, that nothing else is reachable, and that
every ticket can still be closed."""

from __future__ import annotations

from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from hub.tickets import workflow
from hub.tickets.models import TicketAction as Act
from hub.tickets.models import TicketStatus as S
from hub.tickets.workflow import Input, Owner
from hub.users.models import Role

STAFF_ROLES = {Role.ADMIN, Role.PROPERTY_MANAGER, Role.COMMUNITY_STAFF}
TABLE_TARGETS = {t.target for t in workflow.TRANSITIONS}


def test_every_action_has_exactly_one_row() -> None:
    assert sorted(workflow.ACTIONS) == sorted(Act)
    assert len(workflow.ACTIONS) == len(set(workflow.ACTIONS))


def test_the_table_says_what_the_community_workflow_says() -> None:
    expected = {
        Act.DISPATCH: ({S.REGISTERED, S.RETURNED}, S.DISPATCHED),
        Act.ACCEPT: ({S.DISPATCHED}, S.ACCEPTED),
        Act.RETURN: ({S.DISPATCHED, S.ACCEPTED}, S.RETURNED),
        Act.START: ({S.ACCEPTED}, S.IN_PROGRESS),
        Act.REQUEST_EXTENSION: ({S.IN_PROGRESS}, S.EXTENSION_REQUESTED),
        Act.GRANT_EXTENSION: ({S.EXTENSION_REQUESTED}, S.IN_PROGRESS),
        Act.REFUSE_EXTENSION: ({S.EXTENSION_REQUESTED}, S.IN_PROGRESS),
        Act.RESOLVE: ({S.IN_PROGRESS}, S.RESOLVED),
        Act.VERIFY: ({S.RESOLVED}, S.VERIFIED),
        Act.REOPEN: ({S.RESOLVED, S.VERIFIED}, S.IN_PROGRESS),
        Act.CLOSE: ({S.VERIFIED}, S.CLOSED),
        Act.RATE: ({S.CLOSED}, S.RATED),
    }
    assert {t.action: (set(t.sources), t.target) for t in workflow.TRANSITIONS} == expected


def test_who_may_do_what() -> None:
    volunteer_actions = {Act.ACCEPT, Act.RETURN, Act.START, Act.REQUEST_EXTENSION, Act.RESOLVE}
    for t in workflow.TRANSITIONS:
        if t.action in volunteer_actions:
            assert t.roles == {Role.VOLUNTEER} and t.owner is Owner.ASSIGNEE, t.action
        elif t.action is Act.RATE:
            assert t.roles == {Role.RESIDENT} and t.owner is Owner.HOUSEHOLD
        else:
            assert t.roles == STAFF_ROLES and t.owner is Owner.ANY, t.action


def test_inputs_each_action_needs() -> None:
    needs = {t.action: set(t.requires) for t in workflow.TRANSITIONS}
    assert needs[Act.RETURN] == needs[Act.REOPEN] == needs[Act.REFUSE_EXTENSION] == {Input.REASON}
    assert needs[Act.START] == needs[Act.RESOLVE] == {Input.NOTE}
    assert needs[Act.DISPATCH] == {Input.ASSIGNEE_ID}
    assert needs[Act.GRANT_EXTENSION] == {Input.NEW_DUE_AT}
    assert needs[Act.RATE] == {Input.SCORE}
    assert needs[Act.ACCEPT] == needs[Act.VERIFY] == needs[Act.CLOSE] == set()


def test_every_state_is_reachable_from_registered() -> None:
    assert workflow.reachable(S.REGISTERED) == set(S)


@pytest.mark.parametrize("state", sorted(set(S) - {S.RATED}))
def test_from_every_state_but_rated_a_path_leads_to_closed(state: S) -> None:
    assert S.CLOSED in workflow.reachable(state)


def test_rated_is_the_only_terminal_state_and_comes_only_after_closed() -> None:
    assert workflow.terminal_states() == {S.RATED}
    assert workflow.actions_from(S.RATED) == set()
    assert workflow.reachable(S.RATED) == {S.RATED}
    assert {t.action for t in workflow.TRANSITIONS if t.target is S.RATED} == {Act.RATE}
    assert workflow.BY_ACTION[Act.RATE].sources == {S.CLOSED}


@pytest.mark.parametrize("action", list(Act))
def test_nothing_leaves_rated(action: Act) -> None:
    with pytest.raises(workflow.IllegalTransition, match="none"):
        workflow.apply(S.RATED, action)


def test_an_illegal_move_names_what_is_allowed_instead() -> None:
    with pytest.raises(workflow.IllegalTransition) as raised:
        workflow.apply(S.ACCEPTED, Act.ACCEPT)
    assert raised.value.allowed == [Act.RETURN, Act.START]
    # In English for logs; said to a person in their language, the words staff use.
    assert str(raised.value) == (
        "cannot “Accept” a ticket that is “Accepted”; allowed: Return, Verify on site"
    )
    assert raised.value.for_reader("zh-CN", ZoneInfo("Asia/Shanghai")) == (
        "工单当前为“已接单”，不能“接单”；可执行：退回、现场核实"
    )


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(workflow.UnknownAction, match="dispatch"):
        workflow.apply(S.REGISTERED, "teleport")
    assert not workflow.allowed("teleport", S.REGISTERED, Role.ADMIN)


@given(st.sampled_from(list(S)), st.sampled_from(list(Act)), st.sampled_from(list(Role)))
def test_allowed_agrees_with_apply(state: S, action: Act, role: Role) -> None:
    if workflow.allowed(action, state, role):
        assert action in workflow.actions_from(state)
        assert workflow.apply(state, action) is workflow.BY_ACTION[action].target
    if action not in workflow.actions_from(state):
        assert not workflow.allowed(action, state, role)
        with pytest.raises(workflow.IllegalTransition):
            workflow.apply(state, action)


@given(st.sampled_from(list(S)), st.sampled_from(list(Role)), st.booleans(), st.booleans())
def test_available_actions_respect_role_and_ownership(
    state: S, role: Role, is_assignee: bool, in_household: bool
) -> None:
    actions = workflow.available(state, role, is_assignee=is_assignee, in_household=in_household)
    assert set(actions) <= workflow.actions_from(state)
    assert all(workflow.allowed(a, state, role) for a in actions)
    if role is Role.VOLUNTEER and not is_assignee:
        assert actions == []  # a volunteer acts only on tickets assigned to them
    if role is Role.RESIDENT:
        assert set(actions) <= {Act.RATE}
        if not in_household:
            assert actions == []
    if role in STAFF_ROLES:
        assert not set(actions) & {Act.ACCEPT, Act.START, Act.RESOLVE, Act.RATE}


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(list(Role)), st.sampled_from(list(Act))), max_size=60))
def test_a_random_walk_by_any_roles_stays_inside_the_table(steps: list[tuple[Role, Act]]) -> None:
    state, visited = workflow.INITIAL, [workflow.INITIAL]
    for role, action in steps:
        if workflow.allowed(action, state, role):
            state = workflow.apply(state, action)
            assert state in TABLE_TARGETS
            visited.append(state)
        elif action not in workflow.actions_from(state):
            with pytest.raises(workflow.IllegalTransition):
                workflow.apply(state, action)
    for earlier, later in pairwise(visited):
        assert later in workflow.successors(earlier)
    assert state is S.RATED or S.CLOSED in workflow.reachable(state)


class TicketMachine(RuleBasedStateMachine):
    """Any sequence of actions from registered: legal ones move along the table,
    illegal ones raise and change nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.state = workflow.INITIAL
        self.history: list[tuple[S, Act, S]] = []

    @rule(action=st.sampled_from(list(Act)))
    def act(self, action: Act) -> None:
        before = self.state
        if action in workflow.actions_from(before):
            self.state = workflow.apply(before, action)
            row = workflow.BY_ACTION[action]
            assert before in row.sources and self.state is row.target
            self.history.append((before, action, self.state))
        else:
            with pytest.raises(workflow.IllegalTransition) as raised:
                workflow.apply(before, action)
            assert raised.value.status is before
            assert raised.value.allowed == workflow.sorted_actions(workflow.actions_from(before))

    @invariant()
    def state_is_in_the_table(self) -> None:
        assert self.state is workflow.INITIAL or self.state in TABLE_TARGETS

    @invariant()
    def closed_is_still_within_reach(self) -> None:
        if self.state is S.RATED:
            assert self.history and self.history[-1][0] is S.CLOSED
        else:
            assert S.CLOSED in workflow.reachable(self.state)

    @invariant()
    def someone_can_act_unless_rated(self) -> None:
        roles_that_can_act = {
            role
            for role in Role
            if workflow.available(self.state, role, is_assignee=True, in_household=True)
        }
        assert bool(roles_that_can_act) is (self.state is not S.RATED)


TestTicketMachine = TicketMachine.TestCase
TestTicketMachine.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
