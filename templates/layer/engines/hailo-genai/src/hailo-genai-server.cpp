// SPDX-License-Identifier: MIT
//
// hailo-genai-server: an OpenAI-compatible HTTP API for a chat model on a
// Hailo-10H.
//
// It serves what clients of llama.cpp's server use: GET /health,
// GET /v1/models and POST /v1/chat/completions, plain or streamed as
// server-sent events.  The module runs one generation at a time, so
// requests queue for it.  Settings come from the environment (the
// service's defaults file):
//
//   HAILO_GENAI_MODEL         the HEF file (required)
//   HAILO_GENAI_ALIAS         the model's name in the API (default: the file's stem)
//   HAILO_GENAI_HOST          address to listen on (default 127.0.0.1)
//   HAILO_GENAI_PORT          TCP port (default 8080)
//   HAILO_GENAI_API_KEY_FILE  a file holding the key clients must send as
//                             "Authorization: Bearer <key>" (default: none)
//   HAILO_GENAI_MAX_TOKENS    the most tokens one answer may have (default 1024)
//   HAILO_GENAI_QUEUE_TIMEOUT seconds a request waits for the module (default 300)

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "hailo_llm.hpp"

using json = nlohmann::json;
using edgegenai::Finish;
using edgegenai::HailoLlm;
using edgegenai::LlmError;
using edgegenai::Sampling;
using edgegenai::Usage;

namespace {

constexpr size_t MAX_BODY = 1 << 20;  // bytes of one request
constexpr size_t MAX_MESSAGES = 256;
constexpr size_t MAX_STOPS = 4;  // as OpenAI's API

struct Config {
    std::string model;
    std::string alias;
    std::string host = "127.0.0.1";
    int port = 8080;
    std::string api_key;
    uint32_t max_tokens = 1024;
    int queue_timeout = 300;
};

// A request the client got wrong: HTTP 400 with its message.
struct BadRequest {
    std::string message;
    std::string param;
};

[[noreturn]] void die(const std::string &message)
{
    std::cerr << "hailo-genai-server: " << message << std::endl;
    std::exit(2);
}

std::string env(const char *name, const std::string &fallback = "")
{
    const char *value = std::getenv(name);
    return value && *value ? value : fallback;
}

long env_number(const char *name, long fallback, long low, long high)
{
    std::string text = env(name);
    if (text.empty()) {
        return fallback;
    }
    char *end = nullptr;
    long value = std::strtol(text.c_str(), &end, 10);
    if (*end != '\0' || value < low || value > high) {
        die(std::string(name) + " must be a number from " + std::to_string(low) + " to " +
            std::to_string(high) + ", not '" + text + "'");
    }
    return value;
}

Config load_config()
{
    Config c;
    c.model = env("HAILO_GENAI_MODEL");
    if (c.model.empty()) {
        die("HAILO_GENAI_MODEL (the HEF file to serve) is not set");
    }
    std::string stem = c.model.substr(c.model.find_last_of('/') + 1);
    c.alias = env("HAILO_GENAI_ALIAS", stem.substr(0, stem.rfind(".hef")));
    c.host = env("HAILO_GENAI_HOST", c.host);
    c.port = static_cast<int>(env_number("HAILO_GENAI_PORT", c.port, 1, 65535));
    c.max_tokens = static_cast<uint32_t>(env_number("HAILO_GENAI_MAX_TOKENS", c.max_tokens, 1, 1 << 20));
    c.queue_timeout = static_cast<int>(env_number("HAILO_GENAI_QUEUE_TIMEOUT", c.queue_timeout, 1, 86400));
    std::string key_file = env("HAILO_GENAI_API_KEY_FILE");
    if (!key_file.empty()) {
        std::ifstream in(key_file);
        if (!in || !std::getline(in, c.api_key) || c.api_key.size() < 16) {
            die("HAILO_GENAI_API_KEY_FILE: cannot read a key of at least 16 characters from " + key_file);
        }
    }
    return c;
}

json error_body(const std::string &message, const std::string &type, const std::string &param = "")
{
    return {{"error", {{"message", message}, {"type", type},
                       {"param", param.empty() ? json(nullptr) : json(param)}, {"code", nullptr}}}};
}

void send_error(httplib::Response &res, int status, const std::string &message, const std::string &type,
                const std::string &param = "")
{
    res.status = status;
    res.set_content(error_body(message, type, param).dump(), "application/json");
}

// Comparing keys in constant time: how long it takes says nothing of the key.
bool same_key(const std::string &given, const std::string &key)
{
    unsigned char diff = given.size() == key.size() ? 0 : 1;
    for (size_t i = 0; i < given.size(); i++) {
        diff |= static_cast<unsigned char>(given[i] ^ key[i % key.size()]);
    }
    return diff == 0;
}

std::string request_id()
{
    static std::mt19937_64 rng{std::random_device{}()};
    static std::mutex lock;
    std::lock_guard<std::mutex> guard(lock);
    std::ostringstream id;
    id << "chatcmpl-" << std::hex << rng() << rng();
    return id.str();
}

long now()
{
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch()).count();
}

// A message's content: a string, or OpenAI's list of parts of which only
// text parts are understood.
std::string content_text(const json &content, size_t index)
{
    std::string where = "messages[" + std::to_string(index) + "].content";
    if (content.is_string()) {
        return content.get<std::string>();
    }
    if (content.is_null()) {
        return "";
    }
    if (!content.is_array()) {
        throw BadRequest{"content must be a string or a list of text parts", where};
    }
    std::string text;
    for (const auto &part : content) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
            !part["text"].is_string()) {
            throw BadRequest{"only text parts are supported", where};
        }
        text += part["text"].get<std::string>();
    }
    return text;
}

std::vector<std::string> parse_messages(const json &body)
{
    if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty()) {
        throw BadRequest{"messages must be a non-empty list", "messages"};
    }
    const json &messages = body["messages"];
    if (messages.size() > MAX_MESSAGES) {
        throw BadRequest{"at most " + std::to_string(MAX_MESSAGES) + " messages", "messages"};
    }
    std::vector<std::string> out;
    for (size_t i = 0; i < messages.size(); i++) {
        const json &m = messages[i];
        std::string where = "messages[" + std::to_string(i) + "]";
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
            throw BadRequest{"each message needs a role", where};
        }
        std::string role = m["role"].get<std::string>();
        if (role == "developer") {
            role = "system";  // OpenAI's newer name for it
        }
        if (role != "system" && role != "user" && role != "assistant") {
            throw BadRequest{"role must be system, developer, user or assistant", where + ".role"};
        }
        // Re-serialised by the JSON library: quotes and newlines in the
        // text stay text in what the model's template reads.
        out.push_back(json{{"role", role}, {"content", content_text(m.value("content", json()), i)}}.dump());
    }
    return out;
}

template <typename T>
std::optional<T> number(const json &body, const char *name, double low, double high)
{
    if (!body.contains(name) || body[name].is_null()) {
        return std::nullopt;
    }
    const json &v = body[name];
    if (!v.is_number() || v.get<double>() < low || v.get<double>() > high ||
        (std::is_integral<T>::value && !v.is_number_integer())) {
        std::ostringstream range;
        range << name << " must be a number from " << low << " to " << high;
        throw BadRequest{range.str(), name};
    }
    return v.get<T>();
}

Sampling parse_sampling(const json &body, const Config &config)
{
    Sampling s;
    s.temperature = number<float>(body, "temperature", 0, 2);
    s.top_p = number<float>(body, "top_p", 0, 1);
    s.top_k = number<uint32_t>(body, "top_k", 1, 1000);
    s.frequency_penalty = number<float>(body, "frequency_penalty", -2, 2);
    s.seed = number<uint32_t>(body, "seed", 0, 4294967295.0);
    auto max = number<uint32_t>(body, "max_completion_tokens", 1, config.max_tokens);
    if (!max) {
        max = number<uint32_t>(body, "max_tokens", 1, config.max_tokens);
    }
    s.max_tokens = max ? *max : config.max_tokens;
    if (body.contains("n") && body["n"] != 1) {
        throw BadRequest{"only n = 1 is supported", "n"};
    }
    return s;
}

std::vector<std::string> parse_stop(const json &body)
{
    std::vector<std::string> stops;
    if (!body.contains("stop") || body["stop"].is_null()) {
        return stops;
    }
    const json &stop = body["stop"];
    if (stop.is_string()) {
        stops.push_back(stop.get<std::string>());
    } else if (stop.is_array() && stop.size() <= MAX_STOPS) {
        for (const auto &s : stop) {
            if (!s.is_string()) {
                throw BadRequest{"stop must be a string or a list of strings", "stop"};
            }
            stops.push_back(s.get<std::string>());
        }
    } else {
        throw BadRequest{"stop must be a string or a list of up to 4 strings", "stop"};
    }
    for (const auto &s : stops) {
        if (s.empty()) {
            throw BadRequest{"a stop sequence cannot be empty", "stop"};
        }
    }
    return stops;
}

// The generated text, cut at the first stop sequence.  Text that could be
// the start of a stop sequence is held back until it is known not to be.
class StopFilter {
public:
    explicit StopFilter(std::vector<std::string> stops) : stops_(std::move(stops))
    {
        for (const auto &s : stops_) {
            hold_ = std::max(hold_, s.size() - 1);
        }
    }

    // Adds a piece; returns the text that may be sent now.  `stopped()` tells
    // whether a stop sequence ended the answer.
    std::string add(const std::string &piece)
    {
        pending_ += piece;
        size_t cut = std::string::npos;
        for (const auto &s : stops_) {
            cut = std::min(cut, pending_.find(s));
        }
        if (cut != std::string::npos) {
            stopped_ = true;
            std::string out = pending_.substr(0, cut);
            pending_.clear();
            return out;
        }
        if (pending_.size() <= hold_) {
            return "";
        }
        size_t keep = hold_;
        // Never split a UTF-8 character.
        while (keep < pending_.size() &&
               (static_cast<unsigned char>(pending_[pending_.size() - keep]) & 0xC0) == 0x80) {
            keep++;
        }
        std::string out = pending_.substr(0, pending_.size() - keep);
        pending_.erase(0, pending_.size() - keep);
        return out;
    }

    std::string flush()
    {
        std::string out;
        out.swap(pending_);
        return out;
    }

    bool stopped() const { return stopped_; }

private:
    std::vector<std::string> stops_;
    std::string pending_;
    size_t hold_ = 0;
    bool stopped_ = false;
};

const char *finish_reason(Finish finish, const StopFilter &filter)
{
    if (filter.stopped()) {
        return "stop";
    }
    return finish == Finish::length ? "length" : "stop";
}

json usage_json(const Usage &usage)
{
    return {{"prompt_tokens", usage.prompt_tokens},
            {"completion_tokens", usage.completion_tokens},
            {"total_tokens", usage.prompt_tokens + usage.completion_tokens}};
}

class Service {
public:
    explicit Service(Config config) : config_(std::move(config)), started_(now()) {}

    void load()
    {
        try {
            auto llm = std::make_unique<HailoLlm>(config_.model);
            std::cerr << "hailo-genai-server: model " << config_.alias << " loaded from " << config_.model
                      << ", context capacity " << llm->context_capacity() << " tokens" << std::endl;
            std::lock_guard<std::timed_mutex> guard(device_);
            llm_ = std::move(llm);
            ready_ = true;
        } catch (const LlmError &e) {
            // The unit restarts the server; the log says why.
            std::cerr << "hailo-genai-server: " << e.what() << std::endl;
            std::_Exit(1);
        }
    }

    void routes(httplib::Server &server)
    {
        server.Get("/health", [this](const httplib::Request &, httplib::Response &res) {
            if (ready_) {
                res.set_content(R"({"status":"ok"})", "application/json");
            } else {
                send_error(res, 503, "Loading model", "unavailable_error");
            }
        });
        server.Get("/v1/models", [this](const httplib::Request &req, httplib::Response &res) {
            if (!authorised(req, res)) {
                return;
            }
            json model = {{"id", config_.alias}, {"object", "model"}, {"created", started_},
                          {"owned_by", "edgegenai"}};
            res.set_content(json{{"object", "list"}, {"data", json::array({model})}}.dump(),
                            "application/json");
        });
        server.Post("/v1/chat/completions", [this](const httplib::Request &req, httplib::Response &res) {
            if (authorised(req, res)) {
                chat(req, res);
            }
        });
    }

private:
    bool authorised(const httplib::Request &req, httplib::Response &res)
    {
        if (config_.api_key.empty()) {
            return true;
        }
        const std::string prefix = "Bearer ";
        std::string header = req.get_header_value("Authorization");
        if (header.compare(0, prefix.size(), prefix) == 0 &&
            same_key(header.substr(prefix.size()), config_.api_key)) {
            return true;
        }
        send_error(res, 401, "Invalid API Key", "authentication_error");
        return false;
    }

    void chat(const httplib::Request &req, httplib::Response &res)
    {
        std::vector<std::string> messages;
        Sampling sampling;
        std::vector<std::string> stops;
        bool stream = false;
        try {
            json body = json::parse(req.body);
            if (!body.is_object()) {
                throw BadRequest{"the request body must be a JSON object", ""};
            }
            if (body.contains("model") && body["model"].is_string() && body["model"] != config_.alias) {
                send_error(res, 404, "The model '" + body["model"].get<std::string>() +
                                         "' does not exist; this server serves '" + config_.alias + "'",
                           "invalid_request_error", "model");
                return;
            }
            messages = parse_messages(body);
            sampling = parse_sampling(body, config_);
            stops = parse_stop(body);
            if (body.contains("stream") && !body["stream"].is_boolean()) {
                throw BadRequest{"stream must be true or false", "stream"};
            }
            stream = body.value("stream", false);
        } catch (const json::exception &e) {
            send_error(res, 400, std::string("The request body is not valid JSON: ") + e.what(),
                       "invalid_request_error");
            return;
        } catch (const BadRequest &e) {
            send_error(res, 400, e.message, "invalid_request_error", e.param);
            return;
        }
        if (!ready_) {
            send_error(res, 503, "Loading model", "unavailable_error");
            return;
        }
        if (stream) {
            res.set_chunked_content_provider(
                "text/event-stream",
                [this, messages, sampling, stops](size_t, httplib::DataSink &sink) {
                    stream_chat(messages, sampling, stops, sink);
                    return true;
                });
            return;
        }
        std::unique_lock<std::timed_mutex> turn(device_, std::chrono::seconds(config_.queue_timeout));
        if (!turn.owns_lock()) {
            send_error(res, 503, "The accelerator is busy; try again", "unavailable_error");
            return;
        }
        StopFilter filter(stops);
        std::string text;
        Usage usage;
        try {
            auto started = std::chrono::steady_clock::now();
            Finish finish = llm_->chat(messages, sampling, [&](const std::string &piece) {
                text += filter.add(piece);
                return !filter.stopped();
            }, usage);
            text += filter.flush();
            log_timing(usage, started);
            json answer = {
                {"id", request_id()}, {"object", "chat.completion"}, {"created", now()},
                {"model", config_.alias},
                {"choices", json::array({{{"index", 0},
                                          {"message", {{"role", "assistant"}, {"content", text}}},
                                          {"finish_reason", finish_reason(finish, filter)}}})},
                {"usage", usage_json(usage)}};
            res.set_content(answer.dump(), "application/json");
        } catch (const LlmError &e) {
            std::cerr << "hailo-genai-server: " << e.what() << std::endl;
            send_error(res, 500, e.what(), "server_error");
        }
    }

    void stream_chat(const std::vector<std::string> &messages, const Sampling &sampling,
                     const std::vector<std::string> &stops, httplib::DataSink &sink)
    {
        std::string id = request_id();
        long created = now();
        auto event = [&](const json &data) {
            std::string text = "data: " + data.dump() + "\n\n";
            return sink.write(text.data(), text.size());
        };
        auto chunk = [&](const json &delta, const json &finish) {
            return json{{"id", id}, {"object", "chat.completion.chunk"}, {"created", created},
                        {"model", config_.alias},
                        {"choices", json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}})}};
        };
        std::unique_lock<std::timed_mutex> turn(device_, std::chrono::seconds(config_.queue_timeout));
        if (!turn.owns_lock()) {
            event(error_body("The accelerator is busy; try again", "unavailable_error"));
            sink.done();
            return;
        }
        bool connected = event(chunk({{"role", "assistant"}, {"content", ""}}, nullptr));
        StopFilter filter(stops);
        Usage usage;
        try {
            auto started = std::chrono::steady_clock::now();
            Finish finish = Finish::aborted;
            if (connected) {
                finish = llm_->chat(messages, sampling, [&](const std::string &piece) {
                    std::string text = filter.add(piece);
                    if (!text.empty() && !event(chunk({{"content", text}}, nullptr))) {
                        return false;  // the client went away
                    }
                    return !filter.stopped();
                }, usage);
            }
            log_timing(usage, started);
            if (finish == Finish::aborted && !filter.stopped()) {
                return;  // nobody is listening
            }
            std::string rest = filter.flush();
            if (!rest.empty()) {
                event(chunk({{"content", rest}}, nullptr));
            }
            json last = chunk(json::object(), finish_reason(finish, filter));
            last["usage"] = usage_json(usage);
            event(last);
        } catch (const LlmError &e) {
            std::cerr << "hailo-genai-server: " << e.what() << std::endl;
            event(error_body(e.what(), "server_error"));
        }
        static const std::string done = "data: [DONE]\n\n";
        sink.write(done.data(), done.size());
        sink.done();
    }

    static void log_timing(const Usage &usage, std::chrono::steady_clock::time_point started)
    {
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        std::cerr << "hailo-genai-server: " << usage.prompt_tokens << " prompt tokens, "
                  << usage.completion_tokens << " generated in " << seconds << " s ("
                  << (seconds > 0 ? usage.completion_tokens / seconds : 0) << " tokens/s)" << std::endl;
    }

    Config config_;
    long started_;
    std::atomic<bool> ready_{false};
    std::timed_mutex device_;  // one generation at a time on the module
    std::unique_ptr<HailoLlm> llm_;
};

httplib::Server *running = nullptr;

void on_signal(int)
{
    if (running) {
        running->stop();
    }
}

}  // namespace

int main()
{
    Config config = load_config();
    Service service(config);
    httplib::Server server;
    server.set_payload_max_length(MAX_BODY);
    server.set_read_timeout(30, 0);
    service.routes(server);

    if (!server.bind_to_port(config.host, config.port)) {
        die("cannot listen on " + config.host + ":" + std::to_string(config.port));
    }
    running = &server;
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    std::cerr << "hailo-genai-server: listening on " << config.host << ":" << config.port
              << ", loading " << config.model << std::endl;
    // /health answers 503 until the model is on the module.
    std::thread loader([&service] { service.load(); });
    loader.detach();
    bool ok = server.listen_after_bind();
    return ok ? 0 : 1;
}
