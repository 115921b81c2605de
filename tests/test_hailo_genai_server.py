"""hailo-genai-server, the layer's OpenAI-compatible server for the Hailo-10H, run for real.

The server's own C++ (templates/layer/engines/hailo-genai/src/) is
compiled with the host's compiler against Debian's cpp-httplib and
nlohmann-json, and linked with a stand-in for libhailort and the module
(tests/hailo_genai/: the same declarations, an "Echo:" model that records
what it was handed).  Then it is driven over HTTP by the official OpenAI
Python client and by plain requests: health while loading and after,
models, chat completions plain and streamed, stop sequences, max tokens,
the API key, bad requests and a missing device.

Skipped, saying what is missing, without a C++ compiler or those headers;
in CI (EDGEGENAI_REQUIRE_BOOT=1) that is a failure.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT, skip_unless_ready

SRC = ROOT / "templates/layer/engines/hailo-genai/src"
FAKE = ROOT / "tests/hailo_genai"


# EDGEGENAI_HTTPLIB_INCLUDE: a directory with another cpp-httplib's
# httplib.h (header-only, as the recipe builds it), instead of Debian's.
HTTPLIB = os.environ.get("EDGEGENAI_HTTPLIB_INCLUDE")


def _missing():
    out = []
    if not shutil.which("g++"):
        out.append("g++")
    if not Path(HTTPLIB or "/usr/include", "httplib.h").exists():
        out.append("httplib.h (Debian: libcpp-httplib-dev)")
    if not Path("/usr/include/nlohmann/json.hpp").exists():
        out.append("nlohmann/json.hpp (Debian: nlohmann-json3-dev)")
    return out


@pytest.fixture(scope="module")
def server_binary(tmp_path_factory):
    skip_unless_ready(_missing(), "hailo-genai-server cannot be compiled here")
    out = tmp_path_factory.mktemp("hailo-genai") / "hailo-genai-server"
    # Debian splits cpp-httplib into a header and a library.
    debian = not HTTPLIB and any(Path("/usr/lib").glob("*/libcpp-httplib.so"))
    link = ["-lcpp-httplib"] if debian else []
    include = [f"-I{HTTPLIB}"] if HTTPLIB else []
    cmd = ["g++", "-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror", *include, f"-I{SRC}", f"-I{FAKE}",
           str(SRC / "hailo-genai-server.cpp"), str(SRC / "hailo_llm.cpp"), str(FAKE / "fake_hailort.cpp"),
           "-o", str(out), "-pthread", *link]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One running server with its stand-in device's log."""

    def __init__(self, binary: Path, tmp: Path, **env: str):
        self.port = _free_port()
        self.log = tmp / "device.log"
        self.model = tmp / "Qwen2.5-1.5B-Instruct.hef"
        self.model.write_bytes(b"HEF")
        self.env = {"PATH": os.environ["PATH"], "HAILO_GENAI_MODEL": str(self.model),
                    "HAILO_GENAI_ALIAS": "qwen", "HAILO_GENAI_PORT": str(self.port),
                    "FAKE_HAILO_LOG": str(self.log), **env}
        self.proc = subprocess.Popen([str(binary)], env=self.env, stderr=subprocess.PIPE, text=True)

    def request(self, method: str, path: str, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        data = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
        try:
            conn.request(method, path, body=data, headers=headers or {})
            res = conn.getresponse()
            return res.status, res.read().decode()
        finally:
            conn.close()

    def wait_healthy(self, timeout: float = 10) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if self.request("GET", "/health")[0] == 200:
                    return
            except OSError:
                pass
            assert self.proc.poll() is None, self.stop()
            time.sleep(0.05)
        raise AssertionError("the server never became healthy")

    def device_log(self):
        return self.log.read_text().splitlines() if self.log.exists() else []

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err

    def exit_status(self):
        """(exit code, stderr) of a server that stops by itself."""
        code = self.proc.wait(timeout=10)
        return code, self.stop()


@pytest.fixture()
def server(server_binary, tmp_path):
    s = Server(server_binary, tmp_path)
    s.wait_healthy()
    yield s
    s.stop()


def test_the_official_openai_client_chats(server):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key="unused")
    assert [m.id for m in client.models.list()] == ["qwen"]
    answer = client.chat.completions.create(
        model="qwen", messages=[{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "hello there"}])
    assert answer.choices[0].message.content == "Echo: hello there"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage.completion_tokens == 3
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + 3


def test_the_official_client_streams(server):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key="unused")
    stream = client.chat.completions.create(
        model="qwen", stream=True, messages=[{"role": "user", "content": "one two three"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == "Echo: one two three"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks][-1] == "stop"
    assert len({c.id for c in chunks}) == 1


def test_messages_reach_the_device_as_json_whatever_they_hold(server):
    hostile = 'a "quoted" word,\nnew line, {"role": "system"} and \\ backslash ${@x}'
    status, body = server.request("POST", "/v1/chat/completions",
                                  {"messages": [{"role": "developer", "content": "rule"},
                                                {"role": "user", "content": hostile}]})
    assert status == 200, body
    handed = [json.loads(line[len("message "):]) for line in server.device_log() if line.startswith("message ")]
    assert handed == [{"role": "system", "content": "rule"}, {"role": "user", "content": hostile}]
    # Stateless: the device's context is cleared before every chat.
    log = server.device_log()
    assert log.index("clear") < log.index(next(l for l in log if l.startswith("params")))


def test_sampling_and_max_tokens_are_handed_to_the_device(server):
    status, body = server.request("POST", "/v1/chat/completions",
                                  {"temperature": 0, "top_p": 0.5, "seed": 7, "max_tokens": 2,
                                   "messages": [{"role": "user", "content": "a b c d"}]})
    assert status == 200, body
    answer = json.loads(body)
    assert answer["choices"][0]["message"]["content"] == "Echo: a"
    assert answer["choices"][0]["finish_reason"] == "length"
    params = [l for l in server.device_log() if l.startswith("params")][-1]
    assert params == "params temperature=0 top_p=0.5 max=2 sample=0 seed=7"


def test_a_stop_sequence_ends_the_answer_and_aborts_the_generation(server):
    status, body = server.request("POST", "/v1/chat/completions",
                                  {"stop": [" c"], "messages": [{"role": "user", "content": "a b c d"}]})
    assert status == 200, body
    answer = json.loads(body)
    assert answer["choices"][0]["message"]["content"] == "Echo: a b"
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert "abort" in server.device_log()


@pytest.mark.parametrize("body, param", [
    ("{not json", None),
    ({"messages": []}, "messages"),
    ({"messages": [{"content": "no role"}]}, "messages[0]"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages[0].content"),
    ({"n": 2, "messages": [{"role": "user", "content": "x"}]}, "n"),
    ({"temperature": 5, "messages": [{"role": "user", "content": "x"}]}, "temperature"),
    ({"max_tokens": 0, "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
    ({"max_tokens": 999999, "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
    ({"stop": ["a", "b", "c", "d", "e"], "messages": [{"role": "user", "content": "x"}]}, "stop"),
    ({"stream": "yes", "messages": [{"role": "user", "content": "x"}]}, "stream"),
])
def test_bad_requests_are_refused_with_the_parameter_named(server, body, param):
    status, text = server.request("POST", "/v1/chat/completions", body)
    assert status == 400, text
    error = json.loads(text)["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert not [l for l in server.device_log() if l.startswith("params")]


def test_another_model_name_is_not_found(server):
    status, text = server.request("POST", "/v1/chat/completions",
                                  {"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]})
    assert status == 404 and json.loads(text)["error"]["param"] == "model"


def test_a_huge_body_is_refused(server):
    status, _ = server.request("POST", "/v1/chat/completions", "x" * (2 << 20))
    assert status == 413


def test_the_api_key_is_required_when_set(server_binary, tmp_path):
    key = tmp_path / "api-key"
    key.write_text("0123456789abcdef0123456789abcdef\n")
    s = Server(server_binary, tmp_path, HAILO_GENAI_API_KEY_FILE=str(key))
    try:
        s.wait_healthy()  # /health needs no key
        chat = {"messages": [{"role": "user", "content": "x"}]}
        assert s.request("GET", "/v1/models")[0] == 401
        assert s.request("POST", "/v1/chat/completions", chat,
                         {"Authorization": "Bearer 0123456789abcdef0123456789abcdeX"})[0] == 401
        assert s.request("POST", "/v1/chat/completions", chat,
                         {"Authorization": "Bearer 0123456789abcdef0123456789abcdef"})[0] == 200
    finally:
        s.stop()


def test_health_is_503_until_the_model_is_on_the_module(server_binary, tmp_path):
    s = Server(server_binary, tmp_path, FAKE_HAILO_LOAD_MS="1500")
    try:
        end = time.monotonic() + 5
        status = None
        while time.monotonic() < end:
            try:
                status, body = s.request("GET", "/health")
                break
            except OSError:
                time.sleep(0.05)
        assert status == 503, body
        assert s.request("POST", "/v1/chat/completions",
                         {"messages": [{"role": "user", "content": "x"}]})[0] == 503
        s.wait_healthy()
    finally:
        s.stop()


def test_no_device_means_exit_1_with_hailorts_reason(server_binary, tmp_path):
    s = Server(server_binary, tmp_path, FAKE_HAILO_NO_DEVICE="1")
    code, err = s.exit_status()
    assert code == 1
    assert "opening the Hailo device: HAILO_OUT_OF_PHYSICAL_DEVICES" in err


@pytest.mark.parametrize("env, message", [
    ({"HAILO_GENAI_MODEL": ""}, "HAILO_GENAI_MODEL (the HEF file to serve) is not set"),
    ({"HAILO_GENAI_PORT": "80; rm"}, "HAILO_GENAI_PORT must be a number from 1 to 65535"),
    ({"HAILO_GENAI_API_KEY_FILE": "/nonexistent"}, "cannot read a key of at least 16 characters"),
])
def test_bad_settings_stop_the_server_with_the_setting_named(server_binary, tmp_path, env, message):
    s = Server(server_binary, tmp_path, **env)
    code, err = s.exit_status()
    assert code == 2
    assert message in err


def test_requests_take_turns_on_the_module(server_binary, tmp_path):
    """Two clients at once: both answered, one generation at a time on the device."""
    import threading
    s = Server(server_binary, tmp_path, FAKE_HAILO_TOKEN_MS="100")
    try:
        s.wait_healthy()
        results = []

        def ask(words):
            results.append(s.request("POST", "/v1/chat/completions",
                                     {"messages": [{"role": "user", "content": words}]}))

        threads = [threading.Thread(target=ask, args=(w,)) for w in ("a b c", "d e f")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        texts = sorted(json.loads(b)["choices"][0]["message"]["content"] for _, b in results)
        assert texts == ["Echo: a b c", "Echo: d e f"]
        # Each chat's clear, params and message lines come together: no interleaving.
        log = [l.split(" ")[0] for l in s.device_log() if not l.startswith("load")]
        assert log == ["clear", "params", "message"] * 2
    finally:
        s.stop()
