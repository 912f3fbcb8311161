"""Publish delivers exactly the signed manifest: no extra file, no link, nothing private, no forged receipt."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
from pathlib import Path

import pytest
import test_deliver as base
from test_build import _fake_analyse, _quick_brief, _quick_site, build_module, quick_build

from analysis.errors import PublishError
from publishing._brief_worker import BriefWorker
from publishing.cli import main
from publishing.deliver import BUILD_INFO, KEY_ENV, KEY_FILE, check_site, load_key, publish_to_dir
from publishing.deliver._signing import canonical_json

# The site, signing and SMTP fixtures are shared with test_deliver.
site, pdf_bytes, smtp_server, bare_repo = base.site, base.pdf_bytes, base.smtp_server, base.bare_repo
SECRET = "root:x:0:0:the secret the probe found:/root:/bin/bash\n"


def _secret(site_dir: Path) -> Path:
    path = site_dir.parent / "outside" / "passwd"
    path.parent.mkdir(exist_ok=True)
    path.write_text(SECRET, encoding="utf-8")
    return path


def _extra_page(site_dir: Path, bundle: Path) -> None:
    (site_dir / "evil.html").write_text("<script>steal()</script>", encoding="utf-8")


def _private_copied_in(site_dir: Path, bundle: Path) -> None:
    shutil.copy(bundle.parent / "assignments.csv", site_dir / "assignments.csv")


def _link_to_secret(site_dir: Path, bundle: Path) -> None:
    (site_dir / "passwd.txt").symlink_to(_secret(site_dir))


def _page_replaced_by_link(site_dir: Path, bundle: Path) -> None:
    page = site_dir / "_assets" / "site.css"
    data = page.read_bytes()
    page.unlink()
    target = _secret(site_dir)
    target.write_bytes(data)  # same bytes as the build's: only the link itself gives it away
    page.symlink_to(target)


def _folder_replaced_by_link(site_dir: Path, bundle: Path) -> None:
    moved = site_dir.parent / "assets-elsewhere"
    (site_dir / "_assets").rename(moved)
    (site_dir / "_assets").symlink_to(moved, target_is_directory=True)


def _site_is_a_link(site_dir: Path, bundle: Path) -> None:
    real = site_dir.parent / "real-site"
    site_dir.rename(real)
    site_dir.symlink_to(real, target_is_directory=True)


def _forged_receipt(site_dir: Path, bundle: Path) -> None:
    (site_dir / "index.html").write_text("<p>edited, and the checksum rewritten</p>", encoding="utf-8")
    receipt = json.loads((site_dir / BUILD_INFO).read_text(encoding="utf-8"))
    receipt["files"]["index.html"] = hashlib.sha256((site_dir / "index.html").read_bytes()).hexdigest()
    (site_dir / BUILD_INFO).write_text(json.dumps(receipt), encoding="utf-8")


def _unsigned_receipt(site_dir: Path, bundle: Path) -> None:
    receipt = json.loads((site_dir / BUILD_INFO).read_text(encoding="utf-8"))
    del receipt["signature"]
    (site_dir / BUILD_INFO).write_text(json.dumps(receipt), encoding="utf-8")


def _renamed_private_copy_signed(site_dir: Path, bundle: Path) -> None:
    """As if a renderer had leaked the export under another name: it is in the signed manifest."""
    (site_dir / "data").mkdir()
    shutil.copy(bundle.parent / "assignments.csv", site_dir / "data" / "segments.txt")
    base.sign(site_dir, bundle)


def _id_table_signed(site_dir: Path, bundle: Path) -> None:
    (site_dir / "export.tsv").write_text('"Customer ID"\tsegment\n12347\t2\n', encoding="utf-8")
    base.sign(site_dir, bundle)


LEAKS = [
    pytest.param(_extra_page, "evil.html not in the build's manifest", id="extra-page"),
    pytest.param(_private_copied_in, "assignments.csv not in the build's manifest", id="private-copied-in"),
    pytest.param(_link_to_secret, "passwd.txt (symbolic link)", id="link-to-secret"),
    pytest.param(_page_replaced_by_link, "_assets/site.css (symbolic link)", id="page-replaced-by-link"),
    pytest.param(_folder_replaced_by_link, "_assets (symbolic link)", id="folder-replaced-by-link"),
    pytest.param(_site_is_a_link, "the site is a symbolic link", id="site-is-a-link"),
    pytest.param(_forged_receipt, "signature does not match", id="forged-checksum"),
    pytest.param(_unsigned_receipt, "not a valid signed build receipt", id="unsigned-receipt"),
    pytest.param(_renamed_private_copy_signed, "data/segments.txt (a copy of", id="renamed-private-copy"),
    pytest.param(_id_table_signed, "export.tsv (a table with a customer-id column)", id="customer-id-table"),
]


@pytest.mark.parametrize(("spoil", "message"), LEAKS)
def test_leaks_are_refused_and_nothing_is_delivered(
    site, spoil, message, tmp_path, bare_repo, smtp_server, monkeypatch, capsys
):
    controller, inbox = smtp_server
    for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(controller.port), "SMTP_STARTTLS": "false"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SMTP_FROM", "brief@example.org")
    monkeypatch.setenv("SMTP_TO", "ceo@example.org")
    spoil(*site)
    dest = tmp_path / "www"
    args = ["publish", "--site", str(site[0]), "--bundle", str(site[1]), "--to-dir", str(dest), "--to-git"]
    code = main([*args, str(bare_repo)])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1 and err.startswith("error: ")
    assert not dest.exists()
    assert base._git("--git-dir", str(bare_repo), "for-each-ref").strip() == ""
    assert inbox.envelopes == []


def test_publish_copies_the_manifest_not_the_directory(site, tmp_path):
    checked = base.checked(site)
    _extra_page(*site)  # added after the check: the checked snapshot is what goes out
    dest = publish_to_dir(checked, tmp_path / "www")
    published = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert published == sorted(checked.files)
    assert "evil.html" not in published


def test_signature_is_an_hmac_of_the_canonical_receipt_under_a_derived_key(site, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "a long random secret")
    base.sign(*site)
    receipt = json.loads((site[0] / BUILD_INFO).read_text(encoding="utf-8"))
    signature = receipt.pop("signature")
    body = json.dumps(receipt, sort_keys=True, separators=(",", ":")).encode()
    assert canonical_json(receipt) == body
    derived = hmac.new(b"a long random secret", b"segmentation build-info v1", hashlib.sha256).digest()
    assert signature == hmac.new(derived, body, hashlib.sha256).hexdigest()
    # Domain separation: the raw secret (what the pseudonyms are keyed with) does not sign receipts.
    assert signature != hmac.new(b"a long random secret", body, hashlib.sha256).hexdigest()
    assert check_site(site[0], bundle_path=site[1])


def test_publish_with_another_key_is_refused(site, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "the key of the build")
    base.sign(*site)
    monkeypatch.setenv(KEY_ENV, "another key")
    with pytest.raises(PublishError, match=r"signature does not match the signing key from \$SEGMENTATION_KEY"):
        check_site(site[0], bundle_path=site[1])
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(PublishError, match="signature does not match the signing key from .*/.signing-key"):
        check_site(site[0], bundle_path=site[1])


def test_publish_without_any_key_says_to_build(site, monkeypatch):
    (site[1].parent.parent / KEY_FILE).unlink()
    with pytest.raises(PublishError, match=r"no signing key \(SEGMENTATION_KEY is not set.*run `nox -s build` first"):
        check_site(site[0], bundle_path=site[1])


def test_build_creates_the_key_file_once_and_reuses_it(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    first = quick_build(monkeypatch, tmp_path)
    key_file = tmp_path / "build" / KEY_FILE
    material = key_file.read_bytes()
    assert first.key_created and first.key_source == str(key_file)
    assert len(material) == 32 and key_file.stat().st_mode & 0o777 == 0o600
    second = quick_build(monkeypatch, tmp_path)
    assert not second.key_created and key_file.read_bytes() == material
    assert second.info.signature == first.info.signature  # same input, same key: the same receipt


def test_build_with_an_environment_key_writes_no_key_file(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "a long random secret")
    result = quick_build(monkeypatch, tmp_path)
    assert result.key_source == "$SEGMENTATION_KEY" and not result.key_created
    assert not (tmp_path / "build" / KEY_FILE).exists()
    assert check_site(result.site_dir, bundle_path=result.bundle_path).info == result.info


def test_cli_says_once_that_it_created_the_key(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(KEY_ENV, raising=False)
    data = tmp_path / "data.csv"
    data.write_text("unused by the stand-in analysis\n", encoding="utf-8")
    args = ["build", str(data), "--out", str(tmp_path / "_site"), "--private", str(tmp_path / "build" / "private")]
    monkeypatch.setattr(build_module, "_analyse", _fake_analyse)
    monkeypatch.setattr(build_module, "_render_site", _quick_site)
    monkeypatch.setattr(build_module, "_render_brief", _quick_brief)
    monkeypatch.setattr(build_module, "_brief_worker", lambda: BriefWorker(start=False))
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    second = capsys.readouterr().out
    assert f"created the signing key {tmp_path / 'build' / KEY_FILE}" in first
    assert "signing key" not in second


@pytest.mark.parametrize("problem", ["link", "readable-by-others", "wrong-size"])
def test_a_bad_key_file_is_refused(tmp_path, problem, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    key_file = tmp_path / KEY_FILE
    if problem == "link":
        (tmp_path / "elsewhere").write_bytes(b"k" * 32)
        key_file.symlink_to(tmp_path / "elsewhere")
    else:
        key_file.write_bytes(b"k" * (32 if problem == "readable-by-others" else 5))
        key_file.chmod(0o644 if problem == "readable-by-others" else 0o600)
    with pytest.raises(PublishError, match=str(key_file)):
        load_key(tmp_path, create=True)
