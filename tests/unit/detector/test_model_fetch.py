"""The default model's offline install (vigil_detector.fetch): hashes checked at every step."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from vigil_detector.fetch import MEMBER_DIR, ModelFile, extract, missing, sha256_of

CONTENTS = {"net.cfg": b"[net]\nwidth=416\n", "net.weights": bytes(range(256)) * 64, "names": b"person\ncat\n"}
FILES = tuple(ModelFile(n, hashlib.sha256(c).hexdigest()) for n, c in CONTENTS.items())


def archive(path: Path, contents: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in contents.items():
            info = tarfile.TarInfo(MEMBER_DIR + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_the_files_are_extracted_and_then_found_complete(tmp_path: Path) -> None:
    a = archive(tmp_path / "a.tar.gz", CONTENTS)
    out = tmp_path / "models"
    assert missing(out, FILES) == ["net.cfg", "net.weights", "names"]
    extract(a, out, FILES, archive_sha256=sha256_of(a))
    assert missing(out, FILES) == []
    assert (out / "net.weights").read_bytes() == CONTENTS["net.weights"]


def test_an_archive_with_another_hash_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    a = archive(tmp_path / "a.tar.gz", CONTENTS)
    with pytest.raises(RuntimeError, match="SHA-256 mismatch"):
        extract(a, tmp_path / "models", FILES, archive_sha256="0" * 64)
    assert not (tmp_path / "models").exists()


def test_an_altered_file_never_lands(tmp_path: Path) -> None:
    a = archive(tmp_path / "a.tar.gz", CONTENTS | {"net.weights": b"tampered"})
    out = tmp_path / "models"
    with pytest.raises(RuntimeError, match=r"net\.weights: SHA-256 mismatch"):
        extract(a, out, FILES, archive_sha256=sha256_of(a))
    assert not (out / "net.weights").exists() and not list(out.glob(".*partial"))


def test_a_file_changed_after_the_install_counts_as_missing(tmp_path: Path) -> None:
    a = archive(tmp_path / "a.tar.gz", CONTENTS)
    out = tmp_path / "models"
    extract(a, out, FILES, archive_sha256=sha256_of(a))
    (out / "names").write_bytes(b"person\ndog\n")
    assert missing(out, FILES) == ["names"]
