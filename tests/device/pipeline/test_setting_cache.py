"""The tuned setting's cache: where it lives, what it is keyed by, and a home it cannot write."""

from __future__ import annotations

from pathlib import Path

import pytest

from pisight.device.pipeline.autotune import Choice, Trial
from pisight.device.pipeline.inference import InferenceSetting
from pisight.device.pipeline.setting_cache import cache_file, cache_key, load_setting, store_setting

CHOICE = Choice(InferenceSetting(1, 2), (Trial(InferenceSetting(1, 2), 88.0, 11.0),))


def test_a_stored_setting_comes_back_for_its_key_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    model = tmp_path / "a.tflite"
    model.write_bytes(b"model a")
    key = cache_key(model, "litert")
    assert load_setting(key) is None
    assert store_setting(key, CHOICE) == tmp_path / "pisight" / "inference.json"
    assert load_setting(key) == (InferenceSetting(1, 2), CHOICE.reason())
    model.write_bytes(b"model b")  # a new model (a deploy): another key
    assert cache_key(model, "litert") != key and load_setting(cache_key(model, "litert")) is None
    assert cache_key(model, "tflite-runtime") != cache_key(model, "litert")


def test_systemds_cache_directory_comes_first(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("CACHE_DIRECTORY", f"{tmp_path / 'unit'}:{tmp_path / 'other'}")
    assert cache_file() == tmp_path / "unit" / "inference.json"


def test_an_unwritable_or_broken_cache_only_costs_a_retune(tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert store_setting("key", CHOICE) is None
    assert load_setting("key") is None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    (tmp_path / "pisight").mkdir()
    (tmp_path / "pisight" / "inference.json").write_text("{not json")
    assert load_setting("key") is None
    assert store_setting("key", CHOICE) is not None and load_setting("key") is not None
