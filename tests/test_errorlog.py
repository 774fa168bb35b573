import pytest

from napari_maxrf_sr.errorlog import LOG_DIR_ENV, write_traceback_log


def _raise_inside():
    raise ZeroDivisionError("deliberate")


def test_traceback_is_written_with_its_context(tmp_path, monkeypatch):
    monkeypatch.setenv(LOG_DIR_ENV, str(tmp_path / "logs"))
    with pytest.raises(ZeroDivisionError) as info:
        _raise_inside()
    path = write_traceback_log(info.value, "maxrf-sr run --xrf a.tif")
    text = path.read_text(encoding="utf-8")
    assert path.parent == tmp_path / "logs"
    assert "doing: maxrf-sr run --xrf a.tif" in text
    assert "_raise_inside" in text and "ZeroDivisionError: deliberate" in text


def test_an_unwritable_log_folder_gives_none_not_an_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(LOG_DIR_ENV, str(blocker / "logs"))
    assert write_traceback_log(ValueError("x")) is None
