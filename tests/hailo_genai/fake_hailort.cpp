// Stand-in for libhailort and a Hailo-10H: see hailo/hailort.h.
//
// The "model" answers "Echo: " and the last message's text, one word a
// token.  FAKE_HAILO_LOG names a file that records what the server handed
// the device (messages, sampling, aborts); FAKE_HAILO_NO_DEVICE makes the
// device missing; FAKE_HAILO_LOAD_MS and FAKE_HAILO_TOKEN_MS slow loading
// and generation down.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <nlohmann/json.hpp>
#include "hailo/genai/llm/llm.hpp"

namespace {

void record(const std::string &line)
{
    const char *path = std::getenv("FAKE_HAILO_LOG");
    if (path) {
        std::ofstream(path, std::ios::app) << line << "\n";
    }
}

void pause(const char *variable)
{
    const char *ms = std::getenv(variable);
    if (ms) {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(ms)));
    }
}

}  // namespace

const char *hailo_get_status_message(hailo_status status)
{
    switch (status) {
    case HAILO_OPEN_FILE_FAILURE: return "HAILO_OPEN_FILE_FAILURE";
    case HAILO_OUT_OF_PHYSICAL_DEVICES: return "HAILO_OUT_OF_PHYSICAL_DEVICES";
    default: return "HAILO_STATUS";
    }
}

namespace hailort {

Expected<std::shared_ptr<VDevice>> VDevice::create_shared()
{
    if (std::getenv("FAKE_HAILO_NO_DEVICE")) {
        return Expected<std::shared_ptr<VDevice>>::fail(HAILO_OUT_OF_PHYSICAL_DEVICES);
    }
    return std::make_shared<VDevice>();
}

namespace genai {

Expected<LLM> LLM::create(std::shared_ptr<VDevice>, const LLMParams &params)
{
    pause("FAKE_HAILO_LOAD_MS");
    if (!std::ifstream(params.hef)) {
        return Expected<LLM>::fail(HAILO_OPEN_FILE_FAILURE);
    }
    record("load " + params.hef);
    return LLM();
}

Expected<LLMGeneratorParams> LLM::create_generator_params() { return LLMGeneratorParams(); }

Expected<LLMGeneratorCompletion> LLM::generate(const LLMGeneratorParams &params,
                                               const std::vector<std::string> &messages,
                                               const std::vector<std::string> &)
{
    std::ostringstream p;
    p << "params temperature=" << params.temperature << " top_p=" << params.top_p
      << " max=" << params.max_generated_tokens << " sample=" << params.do_sample << " seed=" << params.seed;
    record(p.str());
    std::string last;
    size_t words = 0;
    for (const auto &m : messages) {
        record("message " + m);
        auto parsed = nlohmann::json::parse(m);  // throws, and fails the test, on bad JSON
        last = parsed.at("content").get<std::string>();
        std::istringstream in(last);
        std::string w;
        while (in >> w) {
            words++;
        }
    }
    LLMGeneratorCompletion c;
    c.tokens.push_back("Echo:");
    std::istringstream in(last);
    std::string w;
    while (in >> w) {
        c.tokens.push_back(" " + w);
    }
    c.max_tokens = params.max_generated_tokens;
    context = words + 3;  // the template's own tokens
    return Expected<LLMGeneratorCompletion>(std::move(c));
}

Expected<size_t> LLM::get_context_usage_size() { return std::move(context); }
Expected<size_t> LLM::max_context_capacity() { return size_t(2048); }
hailo_status LLM::clear_context() { context = 0; record("clear"); return HAILO_SUCCESS; }

Expected<std::string> LLMGeneratorCompletion::read(std::chrono::milliseconds)
{
    pause("FAKE_HAILO_TOKEN_MS");
    return std::string(tokens[next++]);
}

LLMGeneratorCompletion::Status LLMGeneratorCompletion::generation_status() const
{
    if (aborted) return Status::ABORTED;
    if (next >= max_tokens && next < tokens.size()) return Status::MAX_TOKENS_REACHED;
    return next < tokens.size() ? Status::GENERATING : Status::LOGICAL_END_OF_GENERATION;
}

hailo_status LLMGeneratorCompletion::abort()
{
    aborted = true;
    record("abort");
    return HAILO_SUCCESS;
}

}  // namespace genai
}  // namespace hailort
