// A stand-in for the Hailo-10H, for testing hailo-genai-server without one:
// the declarations of HailoRT 5's API that the server uses, with the same
// signatures (checked against the real headers by test_hailo_genai.py when
// EDGEGENAI_HAILORT_INCLUDE names them), implemented by fake_hailort.cpp.
#pragma once
#include <cstdint>

typedef enum {
    HAILO_SUCCESS = 0,
    HAILO_INVALID_ARGUMENT = 2,
    HAILO_OPEN_FILE_FAILURE = 13,
    HAILO_TIMEOUT = 4,
    HAILO_OUT_OF_PHYSICAL_DEVICES = 74,
} hailo_status;

typedef float float32_t;
#define HAILO_MAX_ENUM (0x7FFFFFFF)

const char *hailo_get_status_message(hailo_status status);
