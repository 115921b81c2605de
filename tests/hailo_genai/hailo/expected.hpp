// Stand-in: see hailort.h.
#pragma once
#include <utility>
#include "hailo/hailort.h"

namespace hailort {

template <typename T>
class Expected {
public:
    Expected(T &&value) : value_(std::move(value)), ok_(true), status_(HAILO_SUCCESS) {}
    static Expected fail(hailo_status status) { return Expected(status, 0); }
    bool has_value() const { return ok_; }
    hailo_status status() const { return status_; }
    T &value() & { return value_; }
    T release() { return std::move(value_); }

private:
    Expected(hailo_status status, int) : value_(), ok_(false), status_(status) {}
    T value_;
    bool ok_;
    hailo_status status_;
};

}  // namespace hailort
