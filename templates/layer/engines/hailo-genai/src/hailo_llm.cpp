// SPDX-License-Identifier: MIT
//
// HailoLlm over HailoRT 5's GenAI API (hailo/genai/llm/llm.hpp).

#include "hailo_llm.hpp"

#include <chrono>
#include <string>

#include "hailo/genai/llm/llm.hpp"
#include "hailo/hailort.h"
#include "hailo/vdevice.hpp"

namespace edgegenai {

namespace {

using Completion = hailort::genai::LLMGeneratorCompletion;

// How long one token may take before the generation counts as hung.
constexpr std::chrono::seconds TOKEN_TIMEOUT{30};

[[noreturn]] void fail(const std::string &what, hailo_status status)
{
    throw LlmError(what + ": " + hailo_get_status_message(status) + " (HailoRT status " +
                   std::to_string(static_cast<int>(status)) + ")");
}

template <typename T>
T take(hailort::Expected<T> &&expected, const std::string &what)
{
    if (!expected.has_value()) {
        fail(what, expected.status());
    }
    return expected.release();
}

void check(hailo_status status, const std::string &what)
{
    if (status != HAILO_SUCCESS) {
        fail(what, status);
    }
}

}  // namespace

struct HailoLlm::Impl {
    std::shared_ptr<hailort::VDevice> vdevice;
    hailort::genai::LLM llm;

    Impl(std::shared_ptr<hailort::VDevice> device, hailort::genai::LLM &&model)
        : vdevice(std::move(device)), llm(std::move(model)) {}
};

HailoLlm::HailoLlm(const std::string &hef_path)
{
    // The default VDevice parameters run HailoRT's scheduler, which the
    // GenAI API requires.
    auto vdevice = take(hailort::VDevice::create_shared(), "opening the Hailo device");
    hailort::genai::LLMParams params(hef_path);
    auto llm = take(hailort::genai::LLM::create(vdevice, params), "loading " + hef_path);
    impl_ = std::make_unique<Impl>(std::move(vdevice), std::move(llm));
}

HailoLlm::~HailoLlm() = default;

size_t HailoLlm::context_capacity()
{
    return take(impl_->llm.max_context_capacity(), "reading the context capacity");
}

Finish HailoLlm::chat(const std::vector<std::string> &messages, const Sampling &sampling,
                      const std::function<bool(const std::string &)> &on_piece, Usage &usage)
{
    auto &llm = impl_->llm;
    // Stateless, as the HTTP API is: every request brings its history.
    check(llm.clear_context(), "clearing the context");

    auto params = take(llm.create_generator_params(), "reading the model's sampling defaults");
    if (sampling.temperature) {
        check(params.set_temperature(*sampling.temperature), "temperature");
        // Temperature 0 asks for the most likely token every time.
        check(params.set_do_sample(*sampling.temperature > 0.0f), "do_sample");
    }
    if (sampling.top_p) {
        check(params.set_top_p(*sampling.top_p), "top_p");
    }
    if (sampling.top_k) {
        check(params.set_top_k(*sampling.top_k), "top_k");
    }
    if (sampling.frequency_penalty) {
        check(params.set_frequency_penalty(*sampling.frequency_penalty), "frequency_penalty");
    }
    if (sampling.max_tokens) {
        check(params.set_max_generated_tokens(*sampling.max_tokens), "max_tokens");
    }
    if (sampling.seed) {
        check(params.set_seed(*sampling.seed), "seed");
    }

    auto completion = take(llm.generate(params, messages), "starting the generation");
    size_t generated = 0;
    Finish finish = Finish::stop;
    while (completion.generation_status() == Completion::Status::GENERATING) {
        auto piece = take(completion.read(TOKEN_TIMEOUT), "reading a token");
        generated++;
        if (!on_piece(piece)) {
            check(completion.abort(), "aborting the generation");
            finish = Finish::aborted;
            break;
        }
    }
    if (finish != Finish::aborted &&
        completion.generation_status() == Completion::Status::MAX_TOKENS_REACHED) {
        finish = Finish::length;
    }
    usage.completion_tokens = generated;
    auto in_context = llm.get_context_usage_size();
    usage.prompt_tokens = in_context.has_value() && in_context.value() > generated
                              ? in_context.value() - generated : 0;
    return finish;
}

}  // namespace edgegenai
