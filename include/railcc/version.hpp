#pragma once

#define RAILCC_VERSION_MAJOR 0
#define RAILCC_VERSION_MINOR 1
#define RAILCC_VERSION_PATCH 0

namespace railcc {
const char* version_string() noexcept;  // "0.1.0"
}
