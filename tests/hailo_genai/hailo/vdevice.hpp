// Stand-in: see hailort.h.
#pragma once
#include <memory>
#include "hailo/expected.hpp"

namespace hailort {

class VDevice {
public:
    static Expected<std::shared_ptr<VDevice>> create_shared();
};

}  // namespace hailort
