"""Memory: the service's limits follow the model and context; what cannot fit is refused."""

from __future__ import annotations

import re

import pytest

from edgegenai import memory
from edgegenai.errors import SpecError
from edgegenai.render import render
from edgegenai.spec import parse_spec

from hostile import BASE, with_value

UNIT = "meta-edgegenai/recipes-ai/edgegenai-llama-cpp-server/files/llama-server.service"
MEMORY = "meta-edgegenai/recipes-ai/edgegenai-llama-cpp-server-memory/files/"
SHAPE = {"layers": 32, "heads": 15, "kv_heads": 5, "head_dim": 64, "vocab": 49152, "feed_forward": 2560}


def _limits(unit: str):
    high = int(re.search(r"^MemoryHigh=(\d+)M$", unit, re.M).group(1))
    hard = int(re.search(r"^MemoryMax=(\d+)M$", unit, re.M).group(1))
    return high, hard


def test_the_kv_cache_grows_with_the_context_and_nothing_else(catalog):
    model = catalog.models["smollm2-360m-instruct-q4-k-m"]
    small, large = memory.estimate(model, 4096), memory.estimate(model, 8192)
    assert large.kv_cache == 2 * small.kv_cache
    assert (large.weights, large.compute) == (small.weights, small.compute)
    # K and V, per layer and token, for 5 KV heads of 64 in f16.
    assert small.kv_cache == 2 * 32 * 4096 * 5 * 64 * 2


def test_the_unit_is_limited_from_the_estimate(catalog):
    spec = parse_spec(with_value("engines.llama-cpp.server.context_size", 8192,
                                 with_value("models[0].shape", SHAPE)), catalog)
    high, hard = _limits(render(spec, catalog)[MEMORY + "10-memory.conf"])
    est = memory.estimate(spec.served_model("llama-cpp", catalog), 8192)
    assert high * memory.MIB >= est.total * 1.25 > (high - 1) * memory.MIB
    assert hard * memory.MIB >= est.total * 1.5 > (hard - 1) * memory.MIB
    assert high < hard


def test_a_model_without_a_shape_gets_no_limits(catalog):
    files = render(parse_spec(BASE, catalog), catalog)
    dropins = [text for path, text in files.items() if path.startswith(MEMORY)]
    assert dropins and all("MemoryHigh" not in d and "MemoryMax" not in d for d in dropins)
    assert all("has no shape in the spec" in d for d in dropins)
    assert "MemoryHigh" not in files[UNIT]


def test_each_board_is_limited_for_the_quantisation_it_gets(catalog):
    """The service is one recipe; the limits follow each board's model, in a recipe of their own."""
    raw = {"boards": ["qemux86-64", "qemuarm64", "raspberrypi5"],
           "models": [{"name": "smollm2-135m-instruct",
                       "quantize": {"default": "Q4_K_M", "qemuarm64": "Q8_0"}}]}
    spec = parse_spec(raw, catalog)
    files = render(spec, catalog)
    limits = {path[len(MEMORY):]: _limits(text) for path, text in files.items() if path.startswith(MEMORY)}
    assert sorted(limits) == ["10-memory.conf", "qemux86-64/10-memory.conf", "raspberrypi5/10-memory.conf"]
    for board in ("qemux86-64", "raspberrypi5"):
        est = memory.estimate(spec.served_model("llama-cpp", catalog, board), 4096)
        assert limits[f"{board}/10-memory.conf"] == (est.high_mib, est.max_mib)
    largest = memory.estimate(spec.served_model("llama-cpp", catalog, "qemuarm64"), 4096)
    assert limits["10-memory.conf"] == (largest.high_mib, largest.max_mib)
    assert limits["qemux86-64/10-memory.conf"][0] < limits["10-memory.conf"][0]
    recipe = files["meta-edgegenai/recipes-ai/edgegenai-llama-cpp-server-memory/"
                   "edgegenai-llama-cpp-server-memory_1.0.bb"]
    assert 'PACKAGE_ARCH = "${MACHINE_ARCH}"' in recipe and 'SRC_URI = "file://10-memory.conf"' in recipe


def test_a_context_the_board_cannot_hold_is_refused_with_both_numbers(catalog):
    raw = with_value("engines.llama-cpp.server.context_size", 262144, with_value("models[0].shape", SHAPE))
    with pytest.raises(SpecError) as err:
        parse_spec(raw, catalog)
    problem = err.value.problems[0]
    assert problem.startswith("engines.llama-cpp.server.context_size: mine with a 262144-token context needs ")
    need = int(re.search(r"needs (\d+) MiB", problem).group(1))
    assert need > 4096 and "board 'qemux86-64' (boards[0]) has 4096 MiB" in problem


def test_weights_larger_than_the_board_are_refused_without_a_shape(catalog):
    # As published: a quantisation in the build would shrink it.
    raw = with_value("models[0].size", 8 * 1024 ** 3)
    del raw["models"][0]["quantize"], raw["models"][0]["imatrix"]
    with pytest.raises(SpecError, match=r"needs 8192 MiB .*has 4096 MiB"):
        parse_spec(raw, catalog)


@pytest.mark.parametrize("value", [0, -1, True, "32", 10 ** 7])
def test_shape_numbers_are_counts(catalog, value):
    with pytest.raises(SpecError) as err:
        parse_spec(with_value("models[0].shape", dict(SHAPE, layers=value)), catalog)
    assert err.value.problems[0].startswith("models[0].shape.layers: ")
