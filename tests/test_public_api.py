from __future__ import annotations

from support import BEARER, user_turn

import mockgpt


def test_all_is_sorted_and_importable() -> None:
    assert list(mockgpt.__all__) == sorted(mockgpt.__all__)
    for name in mockgpt.__all__:
        assert hasattr(mockgpt, name), name


def test_errors_share_one_base() -> None:
    from mockgpt.catalogue import CatalogueError

    assert issubclass(CatalogueError, mockgpt.MockGPTError)
    assert issubclass(mockgpt.ConfigError, mockgpt.MockGPTError)


def test_config_refuses_bad_values() -> None:
    import pytest

    with pytest.raises(mockgpt.ConfigError):
        mockgpt.Config(seed=-1)
    with pytest.raises(mockgpt.ConfigError):
        mockgpt.Config(max_body_bytes=10)


def test_two_apps_share_no_state() -> None:
    pinned = mockgpt.Config(now="2026-11-29T12:00:00Z")
    first, second = mockgpt.create_app(pinned), mockgpt.create_app(pinned)
    # What the seed and the clock's start alone determine is rendered once per
    # process and shared...
    assert first.renderer is second.renderer
    assert mockgpt.create_app(mockgpt.Config(seed=1)).renderer is not first.renderer
    # ...as on the fixture's virtual clock; a system clock without `now` starts at
    # the wall time, so its world is its own
    virtual = mockgpt.Config(clock="virtual")
    assert mockgpt.create_app(virtual).renderer is mockgpt.create_app(virtual).renderer
    assert mockgpt.create_app().renderer is not mockgpt.create_app().renderer
    # ...everything a request can change is each app's own.
    one, other = mockgpt.MockGPT(app=first), mockgpt.MockGPT(app=second)
    stored = len(other.conversations())
    with one.test_client(headers={"Authorization": BEARER}) as client:
        assert client.post("/backend-api/conversation", json=user_turn()).status_code == 200
    assert len(one.conversations()) == stored + 1
    assert len(other.conversations()) == stored
    assert one.calls()
    assert not other.calls()
