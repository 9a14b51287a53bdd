"""Reading files: the format follows the suffix; unreadable files are config errors too."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.config import ConfigErrors, load_file, read_document


@dataclass(frozen=True, slots=True)
class Small:
    name: str
    port: int = 5060


def test_toml_and_yaml_files(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('name = "A"\nport = 5070\n')
    (tmp_path / "b.yaml").write_text("name: B\n")
    (tmp_path / "c.YML").write_text("name: C\nport: 1\n")
    assert load_file(Small, tmp_path / "a.toml") == Small("A", 5070)
    assert load_file(Small, tmp_path / "b.yaml") == Small("B")
    assert load_file(Small, str(tmp_path / "c.YML")) == Small("C", 1)


def test_errors_name_the_path_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("gw-a.toml").write_text('name = "A"\nport = "x"\n')
    with pytest.raises(ConfigErrors) as caught:
        load_file(Small, "gw-a.toml")
    assert str(caught.value) == 'gw-a.toml:2: port: expected an integer, got "x"'


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigErrors) as caught:
        read_document(tmp_path / "nope.toml")
    assert (
        str(caught.value)
        == f"{tmp_path}/nope.toml: cannot read the file: No such file or directory"
    )


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigErrors, match="cannot read the file"):
        read_document(tmp_path)


def test_text_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'name = "A"\ncity = "M\xfcnchen"\n')
    with pytest.raises(ConfigErrors) as caught:
        read_document(path)
    assert str(caught.value) == f"{path}:2: not UTF-8 text (byte 20)"
