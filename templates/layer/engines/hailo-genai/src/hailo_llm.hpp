// SPDX-License-Identifier: MIT
//
// One chat model on a Hailo-10H, through HailoRT's GenAI LLM API.
//
// The model's whole pipeline (tokenizer, chat template, sampling) runs on
// the module; the host hands it the conversation as JSON messages and reads
// the answer back token by token.  HailoRT allows one generation at a time
// and keeps the conversation on the device, so each chat clears it first:
// an OpenAI-style request carries its whole history.  Not thread-safe: the
// server serialises calls.

#ifndef EDGEGENAI_HAILO_LLM_HPP
#define EDGEGENAI_HAILO_LLM_HPP

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace edgegenai {

// What a request may change about sampling; unset fields keep the model's defaults.
struct Sampling {
    std::optional<float> temperature;
    std::optional<float> top_p;
    std::optional<uint32_t> top_k;
    std::optional<float> frequency_penalty;
    std::optional<uint32_t> max_tokens;
    std::optional<uint32_t> seed;
};

enum class Finish { stop, length, aborted };

struct Usage {
    size_t prompt_tokens = 0;
    size_t completion_tokens = 0;
};

// A failure of HailoRT, with its status message.
class LlmError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class HailoLlm {
public:
    // Opens the Hailo device and loads the HEF onto it (slow: the model is
    // streamed to the module).  Throws LlmError.
    explicit HailoLlm(const std::string &hef_path);
    ~HailoLlm();
    HailoLlm(const HailoLlm &) = delete;
    HailoLlm &operator=(const HailoLlm &) = delete;

    // Runs one chat.  `messages` are JSON objects ({"role": ..., "content": ...}),
    // serialised.  `on_piece` gets each piece of text as it is generated and
    // returns false to stop (the client went away, or a stop sequence was
    // seen): the generation is then aborted on the device.  Throws LlmError.
    Finish chat(const std::vector<std::string> &messages, const Sampling &sampling,
                const std::function<bool(const std::string &)> &on_piece, Usage &usage);

    // Tokens the model's context holds at most (fixed when Hailo compiled it).
    size_t context_capacity();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace edgegenai

#endif
