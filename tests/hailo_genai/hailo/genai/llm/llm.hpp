// Stand-in: see hailort.h.
#pragma once
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>
#include "hailo/expected.hpp"
#include "hailo/vdevice.hpp"

namespace hailort {
namespace genai {

class LLMParams {
public:
    LLMParams(const std::string &hef_path, const std::string &lora_name = "", bool optimize_memory_on_device = false)
        : hef(hef_path) { (void)lora_name; (void)optimize_memory_on_device; }
    std::string hef;
};

class LLMGeneratorParams {
public:
    LLMGeneratorParams() = default;
    hailo_status set_temperature(float32_t v) { temperature = v; return HAILO_SUCCESS; }
    hailo_status set_top_p(float32_t v) { top_p = v; return HAILO_SUCCESS; }
    hailo_status set_top_k(uint32_t v) { top_k = v; return HAILO_SUCCESS; }
    hailo_status set_frequency_penalty(float32_t v) { frequency_penalty = v; return HAILO_SUCCESS; }
    hailo_status set_max_generated_tokens(uint32_t v) { max_generated_tokens = v; return HAILO_SUCCESS; }
    hailo_status set_do_sample(bool v) { do_sample = v; return HAILO_SUCCESS; }
    hailo_status set_seed(uint32_t v) { seed = v; return HAILO_SUCCESS; }
    float32_t temperature = 0.7f, top_p = 0.8f, frequency_penalty = 1.0f;
    uint32_t top_k = 20, max_generated_tokens = 200, seed = 0;
    bool do_sample = true;
};

class LLMGeneratorCompletion {
public:
    enum class Status { GENERATING = 0, MAX_TOKENS_REACHED, LOGICAL_END_OF_GENERATION, ABORTED, COUNT,
                        MAX_VALUE = HAILO_MAX_ENUM };
    LLMGeneratorCompletion() = default;
    LLMGeneratorCompletion(LLMGeneratorCompletion &&) = default;
    Expected<std::string> read(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    Status generation_status() const;
    hailo_status abort();

    std::vector<std::string> tokens;
    size_t next = 0;
    uint32_t max_tokens = 0;
    bool aborted = false;
};

class LLM {
public:
    LLM() = default;
    LLM(LLM &&) = default;
    static Expected<LLM> create(std::shared_ptr<VDevice> vdevice, const LLMParams &llm_params);
    Expected<LLMGeneratorParams> create_generator_params();
    Expected<LLMGeneratorCompletion> generate(const LLMGeneratorParams &params,
                                              const std::vector<std::string> &prompt_json_strings,
                                              const std::vector<std::string> &tools_json_strings = {});
    Expected<size_t> get_context_usage_size();
    Expected<size_t> max_context_capacity();
    hailo_status clear_context();

    size_t context = 0;
};

}  // namespace genai
}  // namespace hailort
