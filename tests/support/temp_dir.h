// A fresh folder per test, for every test program: the in-process ones link
// only this part of the support code (dw_test_support_core), so building
// them, as the quick sanitizer sizes do, builds no server kit.
#pragma once

#include <string>

namespace dw::testing {

// A fresh empty folder under /tmp, removed by nobody (tests may inspect it
// after a failure). Fails the calling test (gtest) when it cannot be made.
std::string TempDir(const std::string& tag);

}  // namespace dw::testing
