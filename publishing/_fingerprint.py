"""The build's fingerprint: one digest of everything that shapes ``_site/`` and the private output.

The build stores it in the signed ``build-info.json``; the next build computes
it again and, when nothing changed, stops without running the analysis
(``up to date``). Quarto's own freeze cannot do this: it re-renders a page
when the page's source changes, not when a data file the page reads changes
(quarto-dev/quarto-cli#6793).

What goes in (each as a digest, so the receipt never holds a key or a path):

======================  ==========================================================
``data``                the transactions file's bytes
``config``              the validated configuration (the ``[privacy] key`` left out)
``playbook``            the persona playbook (configured or packaged)
``rfm_rules``           the classic RFM rules table
``results``             the experiment results file, when one is configured
``code``                every file of ``analysis/`` and ``publishing/``
``templates``           ``report/`` (the Quarto project) and ``brief/`` (the brief's template and CSS)
``lock``                ``uv.lock`` (the locked dependencies)
``options``             site URL, the engine actually used, the Python version
``pseudonym_key``       check value of the pseudonym key (``derived`` without one)
``signing_key``         check value of the key that signs the receipt
``history``             the previous refresh compared with and the archived briefs
======================  ==========================================================

Only cheap modules are imported here: deciding that a site is up to date must
not load the analysis stack.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from analysis.config import Config
from analysis.fingerprint import sha256_file, sha256_json, tree_sha256
from analysis.privacy import PseudonymKey, key_check
from analysis.rfm_rules import default_rules_path
from publishing._quarto import quarto_path
from publishing.deliver._signing import SigningKey

__all__ = ["BuildInputs", "build_inputs", "pseudonym_secret"]

ROOT = Path(__file__).resolve().parent.parent
#: What the code and template digests cover, relative to the repository (or installed package) root.
CODE_TREES = ("analysis", "publishing")
TEMPLATE_TREES = ("report", "brief")
NO_HISTORY = "none"
# analysis.naming.DEFAULT_PLAYBOOK, without importing analysis.naming (numpy, scipy, pandas); a test keeps them equal.
DEFAULT_PLAYBOOK = ROOT / "analysis" / "data" / "playbook.toml"


@dataclass(frozen=True)
class BuildInputs:
    """The digests of everything a build depends on, by name (see the module docstring).

    Attributes
    ----------
    components
        Name -> hex digest (or a short code such as ``"derived"`` / ``"none"``).
    """

    components: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "components", MappingProxyType(dict(self.components)))

    @property
    def digest(self) -> str:
        """One SHA-256 over every component (the fingerprint stored in ``build-info.json``)."""
        return sha256_json(dict(self.components))

    def with_history(self, history: str) -> BuildInputs:
        """The same inputs with another history component (the store is read again under its lock)."""
        return BuildInputs({**self.components, "history": history})

    def changed_since(self, earlier: Mapping[str, str] | None) -> tuple[str, ...]:
        """The components that differ from ``earlier`` (none when there is nothing to compare with)."""
        if not earlier:
            return ()
        names = sorted(set(self.components) | set(earlier))
        return tuple(n for n in names if self.components.get(n) != earlier.get(n))


def pseudonym_secret(config: Config, env: Mapping[str, str] | None = None) -> str | None:
    """The real pseudonym key the analysis will use (environment first, then ``[privacy] key``), or None.

    None means the analysis derives the key from the data file, as
    :func:`analysis.privacy.resolve_key` does; pseudonyms then cannot be
    matched across refreshes.
    """
    env = os.environ if env is None else env
    return env.get(config.privacy.key_env) or config.privacy.key or None


def _file_or(path: Path | None, absent: str) -> str:
    return sha256_file(path) if path is not None and Path(path).is_file() else absent


def _engine(engine: str) -> str:
    # "auto" renders with Quarto when it appears on PATH: that changes the site, so it is the engine used that counts.
    if engine == "auto":
        return "quarto" if quarto_path() is not None else "pandoc"
    return engine


def _public_config(config: Config) -> dict:
    return config.model_dump(mode="json", exclude={"privacy": {"key"}})


def build_inputs(
    data: Path,
    *,
    config: Config,
    site_url: str | None,
    engine: str,
    signing: SigningKey,
    history: str = NO_HISTORY,
    env: Mapping[str, str] | None = None,
) -> BuildInputs:
    """Compute the digests of everything the build of ``data`` depends on.

    Parameters
    ----------
    data
        The transactions file.
    config
        The validated configuration.
    site_url, engine
        The build's options (``engine`` as given; ``"auto"`` is resolved here).
    signing
        The key that will sign ``build-info.json``.
    history
        Digest of the history state the build depends on (:func:`publishing.history.history_digest`),
        ``"none"`` when no history is kept.
    env
        Where the pseudonym key is read from (default ``os.environ``).

    Returns
    -------
    BuildInputs
    """
    secret = pseudonym_secret(config, env)
    playbook = Path(config.naming.playbook) if config.naming.playbook is not None else DEFAULT_PLAYBOOK
    options = {
        "site_url": site_url,
        "engine": _engine(engine),
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
    }
    pseudonym = "derived" if secret is None else key_check(PseudonymKey(secret.encode("utf-8"), "check"))
    return BuildInputs(
        {
            "data": sha256_file(data),
            "config": sha256_json(_public_config(config)),
            "playbook": _file_or(playbook, "missing"),
            "rfm_rules": sha256_file(default_rules_path()),
            "results": _file_or(config.experiments.results, "none"),
            "code": tree_sha256([ROOT / name for name in CODE_TREES]),
            "templates": tree_sha256([ROOT / name for name in TEMPLATE_TREES if (ROOT / name).exists()]),
            "lock": _file_or(ROOT / "uv.lock", "none"),
            "options": sha256_json(options),
            "pseudonym_key": pseudonym,
            "signing_key": signing.check(),
            "history": history,
        }
    )
