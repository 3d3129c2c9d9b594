from __future__ import annotations

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
    first, second = mockgpt.create_app(), mockgpt.create_app()
    # What the seed alone determines is rendered once per process and shared...
    assert first.renderer is second.renderer
    assert mockgpt.create_app(mockgpt.Config(seed=1)).renderer is not first.renderer
    # ...everything a request can change is each app's own.
    assert first.conversations is not second.conversations
    assert first.journal is not second.journal
